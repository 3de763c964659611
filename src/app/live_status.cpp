// Status and metrics text: see live_status.hpp.
#include "live_status.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <sstream>

namespace ftpalg::app {

void LatencyHistogram::add(std::chrono::nanoseconds latency) {
  const double seconds = std::chrono::duration<double>(latency).count();
  std::size_t bucket = 0;
  while (bucket < kLatencyBucketBounds.size() && seconds > kLatencyBucketBounds[bucket]) ++bucket;
  ++counts[bucket];
  ++count;
  sumSeconds += seconds;
}

void LatencyHistogram::merge(const LatencyHistogram& other) {
  for (std::size_t i = 0; i < counts.size(); ++i) counts[i] += other.counts[i];
  count += other.count;
  sumSeconds += other.sumSeconds;
}

namespace {

// A JSON string (the texts here are addresses, names and ASCII messages; control characters
// and non-ASCII bytes are escaped all the same).
std::string quoted(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (byte < 0x20 || byte >= 0x7f) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", byte);
      out += escaped;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string boolean(bool value) { return value ? "true" : "false"; }

// The number as Prometheus and JSON read it (shortest form that reads back the same).
std::string real(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.17g", value);
  for (int precision = 1; precision <= 17; ++precision) {
    char shorter[32];
    std::snprintf(shorter, sizeof shorter, "%.*g", precision, value);
    if (std::strtod(shorter, nullptr) == value) return shorter;
  }
  return text;
}

std::int64_t millis(Duration duration) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(duration).count();
}

// "inspecting", "awaiting_greeting", "tls", "not_ftp", "uninspected", "closed".
std::string sessionState(const SessionSnapshot& session) {
  if (session.closed) return "closed";
  if (!session.inspecting) return "uninspected";
  switch (session.channel) {
    case ChannelState::AwaitingGreeting: return "awaiting_greeting";
    case ChannelState::Inspecting: return "inspecting";
    case ChannelState::Opaque: return "tls";
    case ChannelState::NotFtp: return "not_ftp";
  }
  return "?";
}

Stats totalStats(const std::vector<WorkerStatus>& workers) {
  Stats total;
  for (const WorkerStatus& worker : workers) {
    for (std::size_t i = 0; i < total.values.size(); ++i) total.values[i] += worker.engine.stats.values[i];
  }
  return total;
}

LatencyHistogram totalLatency(const std::vector<WorkerStatus>& workers) {
  LatencyHistogram total;
  for (const WorkerStatus& worker : workers) total.merge(worker.latency);
  return total;
}

std::string directionJson(const DirectionSnapshot& dir) {
  std::ostringstream out;
  out << "{\"delivered\":" << dir.delivered << ",\"emitted\":" << dir.emitted
      << ",\"output_delta\":" << dir.outputDelta << ",\"edits\":" << dir.edits
      << ",\"out_of_order_bytes\":" << dir.outOfOrderBytes
      << ",\"partial_line_bytes\":" << dir.partialLineBytes << ",\"isn_known\":" << boolean(dir.baseKnown)
      << ",\"fin\":" << boolean(dir.finSeen) << ",\"tls\":" << boolean(dir.inTls) << "}";
  return out.str();
}

std::string optionalId(const std::optional<std::uint64_t>& id) { return id ? std::to_string(*id) : "null"; }

}  // namespace

std::string statusJson(const DaemonStatus& daemon, const std::vector<WorkerStatus>& workers) {
  std::ostringstream out;
  out << "{\"daemon\":{\"pid\":" << daemon.pid << ",\"mode\":" << quoted(daemon.mode)
      << ",\"status\":" << quoted(daemon.summary) << ",\"uptime_seconds\":" << daemon.uptime.count()
      << ",\"queues\":[";
  for (std::size_t i = 0; i < workers.size(); ++i) out << (i ? "," : "") << workers[i].queue;
  out << "]},\"counters\":{";
  const Stats total = totalStats(workers);
  for (std::size_t i = 0; i < total.values.size(); ++i) {
    out << (i ? "," : "") << quoted(statName(static_cast<Stat>(i))) << ":" << total.values[i];
  }
  out << "},\"sessions\":[";
  bool first = true;
  for (const WorkerStatus& worker : workers) {
    for (const SessionSnapshot& session : worker.engine.sessions) {
      out << (first ? "" : ",") << "{\"queue\":" << worker.queue
          << ",\"flow\":" << quoted(session.flow.toString()) << ",\"state\":" << quoted(sessionState(session))
          << ",\"finished\":" << boolean(session.finished) << ",\"idle_ms\":" << millis(session.idle)
          << ",\"pending_announcement\":{\"awaiting_passive_reply\":" << boolean(session.awaitingPassiveReply)
          << ",\"pending_commands\":" << session.pendingCommands
          << ",\"held_packets\":" << session.heldPackets << ",\"held_bytes\":" << session.heldBytes
          << "},\"pinhole\":" << optionalId(session.pinholeId)
          << ",\"client_to_server\":" << directionJson(session.clientToServer)
          << ",\"server_to_client\":" << directionJson(session.serverToClient) << "}";
      first = false;
    }
  }
  out << "],\"pinholes\":[";
  first = true;
  for (const WorkerStatus& worker : workers) {
    for (const Pinhole& pinhole : worker.engine.pinholes) {
      out << (first ? "" : ",") << "{\"queue\":" << worker.queue << ",\"id\":" << pinhole.id
          << ",\"control\":" << quoted(pinhole.control.toString())
          << ",\"from\":" << quoted(pinhole.from.toString()) << ",\"to\":" << quoted(pinhole.to.toString())
          << ",\"nat_to\":" << (pinhole.natTo ? quoted(pinhole.natTo->toString()) : std::string("null"))
          << ",\"announced_by\":"
          << quoted(pinhole.announcedBy == Direction::ClientToServer ? "client" : "server")
          << ",\"expires_in_ms\":" << std::max<std::int64_t>(0, millis(pinhole.expires - worker.engine.taken))
          << "}";
      first = false;
    }
  }
  const LatencyHistogram latency = totalLatency(workers);
  out << "],\"verdict_latency\":{\"count\":" << latency.count
      << ",\"sum_seconds\":" << real(latency.sumSeconds) << ",\"buckets\":[";
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < latency.counts.size(); ++i) {
    cumulative += latency.counts[i];
    out << (i ? "," : "") << "{\"le\":"
        << (i < kLatencyBucketBounds.size() ? real(kLatencyBucketBounds[i]) : std::string("\"+Inf\""))
        << ",\"count\":" << cumulative << "}";
  }
  out << "]}}\n";
  return out.str();
}

std::string statusText(const DaemonStatus& daemon, const std::vector<WorkerStatus>& workers) {
  std::ostringstream out;
  out << "ftpalg pid " << daemon.pid << ", up " << daemon.uptime.count() << " s: " << daemon.summary << "\n";
  const Stats total = totalStats(workers);
  out << "counters:";
  for (std::size_t i = 0; i < total.values.size(); ++i) {
    out << " " << statName(static_cast<Stat>(i)) << "=" << total.values[i];
  }
  std::size_t sessions = 0, pinholes = 0;
  for (const WorkerStatus& worker : workers) {
    sessions += worker.engine.sessions.size();
    pinholes += worker.engine.pinholes.size();
  }
  out << "\nsessions: " << sessions << "\n";
  for (const WorkerStatus& worker : workers) {
    for (const SessionSnapshot& s : worker.engine.sessions) {
      out << "  q" << worker.queue << " " << s.flow.toString() << " " << sessionState(s)
          << (s.finished ? " finished" : "") << " idle " << millis(s.idle) << " ms; c2s delivered "
          << s.clientToServer.delivered << " emitted " << s.clientToServer.emitted << " delta "
          << s.clientToServer.outputDelta << "; s2c delivered " << s.serverToClient.delivered << " emitted "
          << s.serverToClient.emitted << " delta " << s.serverToClient.outputDelta;
      if (s.awaitingPassiveReply) out << "; awaiting 227/229";
      if (s.heldPackets != 0)
        out << "; holding " << s.heldPackets << " packet(s), " << s.heldBytes << " bytes";
      if (s.pinholeId) out << "; pinhole " << *s.pinholeId;
      out << "\n";
    }
  }
  out << "pinholes: " << pinholes << "\n";
  for (const WorkerStatus& worker : workers) {
    for (const Pinhole& p : worker.engine.pinholes) {
      out << "  q" << worker.queue << " #" << p.id << " " << p.from.toString() << " -> " << p.to.toString();
      if (p.natTo) out << " (to " << p.natTo->toString() << ")";
      out << ", announced by the " << (p.announcedBy == Direction::ClientToServer ? "client" : "server")
          << " of " << p.control.toString() << ", expires in "
          << std::max<std::int64_t>(0, millis(p.expires - worker.engine.taken)) << " ms\n";
    }
  }
  const LatencyHistogram latency = totalLatency(workers);
  out << "verdict latency: " << latency.count << " packets";
  if (latency.count != 0)
    out << ", mean " << real(latency.sumSeconds / static_cast<double>(latency.count) * 1e6) << " us";
  out << "\n";
  return out.str();
}

std::string metricsText(const std::vector<WorkerStatus>& workers) {
  std::ostringstream out;
  const Stats total = totalStats(workers);
  for (std::size_t i = 0; i < total.values.size(); ++i) {
    const std::string name = "ftpalg_" + std::string(statName(static_cast<Stat>(i))) + "_total";
    out << "# HELP " << name << " ftpalg counter " << statName(static_cast<Stat>(i))
        << " (docs/log-schema.md, stats event).\n# TYPE " << name << " counter\n"
        << name << " " << total.values[i] << "\n";
  }
  std::size_t sessions = 0, pinholes = 0, held = 0;
  for (const WorkerStatus& worker : workers) {
    sessions += worker.engine.sessions.size();
    pinholes += worker.engine.pinholes.size();
    for (const SessionSnapshot& session : worker.engine.sessions) held += session.heldPackets;
  }
  out << "# HELP ftpalg_sessions Control connections the engines track now.\n# TYPE ftpalg_sessions gauge\n"
      << "ftpalg_sessions " << sessions << "\n"
      << "# HELP ftpalg_pinholes Pinholes open now.\n# TYPE ftpalg_pinholes gauge\n"
      << "ftpalg_pinholes " << pinholes << "\n"
      << "# HELP ftpalg_held_packets Packets whose verdict waits for the rest of a line.\n"
      << "# TYPE ftpalg_held_packets gauge\nftpalg_held_packets " << held << "\n"
      << "# HELP ftpalg_queues Queue workers answering.\n# TYPE ftpalg_queues gauge\nftpalg_queues "
      << workers.size() << "\n";
  const LatencyHistogram latency = totalLatency(workers);
  const std::string name = "ftpalg_verdict_latency_seconds";
  out << "# HELP " << name << " From a queued packet's receipt to its verdict.\n# TYPE " << name
      << " histogram\n";
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < latency.counts.size(); ++i) {
    cumulative += latency.counts[i];
    out << name << "_bucket{le=\""
        << (i < kLatencyBucketBounds.size() ? real(kLatencyBucketBounds[i]) : std::string("+Inf")) << "\"} "
        << cumulative << "\n";
  }
  out << name << "_sum " << real(latency.sumSeconds) << "\n" << name << "_count " << latency.count << "\n";
  return out.str();
}

}  // namespace ftpalg::app
