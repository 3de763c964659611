// Help texts (see options_help.hpp).
#include "options_help.hpp"

#include <boost/program_options.hpp>
#include <sstream>
#include <vector>

#include "exit_code.hpp"
#include "options_table.hpp"

namespace ftpalg::app::cli {

namespace po = boost::program_options;

namespace {

std::string joined(const std::vector<std::string>& parts, std::string_view separator) {
  std::string text;
  for (const std::string& part : parts) text += (text.empty() ? "" : std::string(separator)) + part;
  return text;
}

// The option's help line: what it does, then "(repeatable, MIN-MAX, default VALUE)" as far as
// they apply. The default is what --print-config prints for a default-constructed AppConfig; a
// switch that is on by default says "default".
std::string helpLine(const Option& option) {
  std::vector<std::string> notes;
  if (option.arity == Arity::Repeated) notes.emplace_back("repeatable");
  if (!option.range.empty()) notes.push_back(option.range);
  if (!option.commandLineOnly && option.print) {
    const std::vector<std::string> defaults = option.print(AppConfig{});
    if (option.arity == Arity::Switch) {
      if (defaults == std::vector<std::string>{"true"}) notes.emplace_back("default");
    } else if (!defaults.empty()) {
      notes.push_back("default " + joined(defaults, " "));
    }
  }
  return notes.empty() ? option.help : option.help + " (" + joined(notes, ", ") + ")";
}

}  // namespace

po::options_description describeCommandLine(Command command) {
  po::options_description all;
  for (const Group group : kGroups) {
    po::options_description section(groupTitle(group));
    bool any = false;
    for (const Option& option : optionTable()) {
      if (option.group != group || !option.appliesTo(command)) continue;
      any = true;
      std::string name(option.name);
      if (option.shortName != 0) name += std::string(",") + option.shortName;
      const std::string help = helpLine(option);
      switch (option.arity) {
        case Arity::Switch:
          section.add_options()(name.c_str(),
                                po::value<bool>()->zero_tokens()->implicit_value(true)->value_name(""),
                                help.c_str());
          break;
        case Arity::Single:
          section.add_options()(name.c_str(), po::value<std::string>()->value_name(option.valueName),
                                help.c_str());
          break;
        case Arity::Repeated:
          section.add_options()(name.c_str(),
                                po::value<std::vector<std::string>>()->value_name(option.valueName),
                                help.c_str());
          break;
      }
    }
    if (any) all.add(section);
  }
  return all;
}

std::string globalHelp() {
  return "Usage: ftpalg COMMAND [options]\n"
         "       ftpalg --help | ftpalg COMMAND --help | ftpalg --version\n"
         "\n"
         "An FTP application-layer gateway for Linux NAT routers: rewrites PORT/EPRT and 227/229\n"
         "addresses across NAT and opens exactly one single-use pinhole per announcement.\n"
         "\n"
         "Commands:\n"
         "  replay   replay a capture through the engine: rewritten capture and decision log out\n"
         "  run      the live gateway (NFQUEUE, conntrack, nft pinholes; --dry-run to observe)\n"
         "  rules    print the firewall rules an admin adds, and the queue rules `run` installs\n"
         "  check    preflight of `run` with the same options: kernel, sysctls, firewall; changes nothing\n"
         "  status   ask the running `run`: sessions, pinholes, counters (--json)\n"

         "\n" +
         exitStatusHelp();
}

std::string commandHelp(Command command) {
  std::ostringstream out;
  switch (command) {
    case Command::Replay:
      out << "Usage: ftpalg replay --in FILE [--out FILE] [--log FILE|-] [--log-format json|text]\n"
             "                     [--snat CIDR=ADDRESS]... [--dnat ADDR:PORT=ADDR:PORT]...\n"
             "                     [--control-port PORT]... [--config FILE] [policy and limit options]\n"
             "\n"
             "Replays a capture taken at one point of the router (e.g. its inside interface) through\n"
             "the engine, using each packet's timestamp as the clock. A packet to a control port is\n"
             "client->server, one from a control port server->client; --snat and --dnat say how the\n"
             "router translates the captured addresses. Other packets pass to --out unchanged.\n";
      break;
    case Command::Run:
      out << "Usage: ftpalg run [--config FILE] [--queue NUM] [--queue-balance N] [--control-port PORT]...\n"
             "                  [--seq-owner kernel|engine] [--pinhole-backend auto|nft|conntrack|none]\n"
             "                  [--pinhole-timeout SECONDS] [--dry-run]\n"
             "                  [--fail-open|--fail-closed] [--user NAME] [--log FILE|-]\n"
             "                  [--log-format json|text] [--syslog] [--status-socket PATH]\n"
             "                  [--metrics-listen ADDRESS:PORT] [policy and limit options]\n"
             "\n"
             "Runs the live gateway: queues FTP control packets (NFQUEUE), rewrites announcements,\n"
             "installs pinholes before the verdict. SIGTERM/SIGINT: clean up and exit; SIGHUP: reopen\n"
             "the log and reload the policy and limits (other changes need a restart); SIGUSR1: log\n"
             "the counters. `ftpalg status` asks it over --status-socket.\n";
      break;
    case Command::Rules:
      out << "Usage: ftpalg rules [--queue NUM] [--queue-balance N] [--control-port PORT]...\n"
             "                    [--firewall nft|iptables] [--control-mark BIT] [--verified-mark BIT]\n"
             "\n"
             "Prints, for both sequence owners, what to add to your own firewall (conntrack-owned:\n"
             "nothing of ftpalg's; engine-owned: accept connections carrying ftpalg's pinhole mark), and\n"
             "the queue rules and the nft table `ftpalg run` installs, for review.\n";
      break;
    case Command::Check:
      out << "Usage: ftpalg check [--config FILE] [every option of run]\n"
             "\n"
             "Checks, without changing anything, whether `ftpalg run` with the same options would start\n"
             "and work here: kernel features (nfnetlink_queue, ctnetlink, nf_tables, the helper anchor),\n"
             "IP forwarding, nf_conntrack_tcp_be_liberal, ftpalg's tables, whether your forward chain\n"
             "admits ftpalg's data connections, the kernel ftp helper on a control port, other users of\n"
             "ftpalg's ct mark bits. One line per check, with the fix; exit status 1 on a failure.\n";
      break;
    case Command::Status:
      out << "Usage: ftpalg status [--config FILE] [--status-socket PATH] [--json]\n"
             "\n"
             "Asks the running `ftpalg run` (over its root-only unix socket) for its sessions (flow,\n"
             "state, pending announcement, stream offsets), pinholes and counters.\n";
      break;
    case Command::Help:
    case Command::Version: return globalHelp();
  }
  out << "\n" << describeCommandLine(command);
  return out.str();
}

}  // namespace ftpalg::app::cli
