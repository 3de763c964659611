// See golden_support.hpp.
#include "golden_support.hpp"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>

#include "ftpalg/packet/checksum.hpp"
#include "io/pcap_source.hpp"
#ifdef FTPALG_HAVE_TEST_SUPPORT
#include "packet_builder.hpp"
#endif

namespace ftpalg::golden {

// ---- files ----------------------------------------------------------------------------------

std::vector<std::string> readLines(const fs::path& path) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string readFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::vector<std::string> caseFlags(const fs::path& caseDir) {
  std::vector<std::string> flags;
  for (const std::string& line : readLines(caseDir / "flags")) {
    std::istringstream words(line);
    std::string word;
    if (!(words >> word) || word.front() == '#') continue;
    do {
      flags.push_back(word);
    } while (words >> word);
  }
  return flags;
}

std::set<std::uint16_t> controlPortsOf(const std::vector<std::string>& flags) {
  std::set<std::uint16_t> ports;
  constexpr std::string_view option = "--control-port";
  for (std::size_t i = 0; i < flags.size(); ++i) {
    std::string value;
    if (flags[i].rfind(std::string(option) + "=", 0) == 0) {
      value = flags[i].substr(option.size() + 1);
    } else if (flags[i] == option && i + 1 < flags.size()) {
      value = flags[i + 1];
    } else {
      continue;
    }
    unsigned port = 0;
    const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), port);
    if (error == std::errc() && end == value.data() + value.size() && port > 0 && port <= 65535) {
      ports.insert(static_cast<std::uint16_t>(port));
    }
  }
  if (ports.empty()) ports.insert(21);
  return ports;
}

std::optional<std::vector<std::string>> listedCases(const fs::path& fixturesDir) {
  const fs::path path = fixturesDir / "cases.list";
  if (!fs::is_regular_file(path)) return std::nullopt;
  std::vector<std::string> cases;
  for (const std::string& line : readLines(path)) {
    if (line.empty() || line.front() == '#') continue;
    cases.push_back(line);
  }
  return cases;
}

std::vector<std::string> caseDirectories(const fs::path& fixturesDir) {
  std::vector<std::string> cases;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(fixturesDir, error)) {
    if (entry.is_directory() && entry.path().filename() != "generators") {
      cases.push_back(entry.path().filename().string());
    }
  }
  std::sort(cases.begin(), cases.end());
  return cases;
}

// ---- the decision log -----------------------------------------------------------------------

std::optional<FlatObject> parseFlatJson(std::string_view text) {
  FlatObject object;
  std::size_t i = 0;
  auto skipSpaces = [&] {
    while (i < text.size() && text[i] == ' ') ++i;
  };
  auto parseString = [&]() -> std::optional<std::string> {
    if (i >= text.size() || text[i] != '"') return std::nullopt;
    ++i;
    std::string out;
    while (i < text.size() && text[i] != '"') {
      char c = text[i++];
      if (c != '\\') {
        out.push_back(c);
        continue;
      }
      if (i >= text.size()) return std::nullopt;
      const char escape = text[i++];
      switch (escape) {
        case '"': out.push_back('"'); break;
        case '\\': out.push_back('\\'); break;
        case '/': out.push_back('/'); break;
        case 'n': out.push_back('\n'); break;
        case 'r': out.push_back('\r'); break;
        case 't': out.push_back('\t'); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'u': {
          if (i + 4 > text.size()) return std::nullopt;
          unsigned value = 0;
          const auto [end, error] = std::from_chars(text.data() + i, text.data() + i + 4, value, 16);
          if (error != std::errc() || end != text.data() + i + 4 || value > 0xff) return std::nullopt;
          out.push_back(static_cast<char>(value));
          i += 4;
          break;
        }
        default: return std::nullopt;
      }
    }
    if (i >= text.size()) return std::nullopt;
    ++i;
    return out;
  };
  skipSpaces();
  if (i >= text.size() || text[i] != '{') return std::nullopt;
  ++i;
  for (;;) {
    skipSpaces();
    auto key = parseString();
    if (!key) return std::nullopt;
    skipSpaces();
    if (i >= text.size() || text[i] != ':') return std::nullopt;
    ++i;
    skipSpaces();
    if (i < text.size() && text[i] == '"') {
      auto value = parseString();
      if (!value) return std::nullopt;
      object[*key] = JsonValue{*value, true};
    } else {
      const std::size_t start = i;
      while (i < text.size() && text[i] != ',' && text[i] != '}') ++i;
      std::string scalar(text.substr(start, i - start));
      while (!scalar.empty() && scalar.back() == ' ') scalar.pop_back();
      if (scalar.empty() || scalar.front() == '{' || scalar.front() == '[') return std::nullopt;
      object[*key] = JsonValue{scalar, false};
    }
    skipSpaces();
    if (i >= text.size()) return std::nullopt;
    if (text[i] == ',') {
      ++i;
      continue;
    }
    if (text[i] != '}') return std::nullopt;
    ++i;
    skipSpaces();
    if (i != text.size()) return std::nullopt;
    return object;
  }
}

std::string textOf(const FlatObject& object, const std::string& key) {
  const auto it = object.find(key);
  return it == object.end() ? std::string() : it->second.text;
}

std::string describeObject(const FlatObject& object) {
  std::string out = "{";
  for (const auto& [key, value] : object) {
    if (out.size() > 1) out += ",";
    out += "\"" + key + "\":";
    out += value.isString ? "\"" + value.text + "\"" : value.text;
  }
  return out + "}";
}

bool isStatsLine(const std::string& line) {
  const auto object = parseFlatJson(line);
  return object && textOf(*object, "event") == "stats";
}

std::string unescapeLine(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 1 < text.size() && text[i + 1] == '\\') {
      out.push_back('\\');
      ++i;
    } else if (text[i] == '\\' && i + 3 < text.size() && text[i + 1] == 'x') {
      unsigned value = 0;
      std::from_chars(text.data() + i + 2, text.data() + i + 4, value, 16);
      out.push_back(static_cast<char>(value));
      i += 3;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

std::optional<FlowKey> parseFlow(std::string_view text) {
  // "client-server"; an IPv6 endpoint is bracketed, so the separating '-' follows a digit and
  // precedes a digit or '['.
  for (std::size_t dash = text.find('-'); dash != std::string_view::npos; dash = text.find('-', dash + 1)) {
    const auto client = Endpoint::parse(text.substr(0, dash));
    const auto server = Endpoint::parse(text.substr(dash + 1));
    if (client && server) return FlowKey{*client, *server};
  }
  return std::nullopt;
}

// ---- captures -------------------------------------------------------------------------------

void StreamAssembler::add(const PacketView& view) {
  const auto payload = view.payload();
  if (view.hasFlag(tcp_flags::kRst)) sawRst_ = true;
  if (view.hasFlag(tcp_flags::kFin)) sawFin_ = true;
  if (!started_) {
    started_ = true;
    unwrapper_ = SeqUnwrapper(view.hasFlag(tcp_flags::kSyn) ? view.seq() + 1 : view.seq());
  }
  if (view.hasFlag(tcp_flags::kSyn)) {
    if (bytes_.empty()) unwrapper_ = SeqUnwrapper(view.seq() + 1);
    return;
  }
  if (payload.empty()) return;
  const std::int64_t offset = unwrapper_.unwrap(view.seq());
  for (std::size_t i = 0; i < payload.size(); ++i) {
    const std::int64_t at = offset + static_cast<std::int64_t>(i);
    if (at < 0) continue;
    const auto index = static_cast<std::size_t>(at);
    if (index >= bytes_.size()) {
      bytes_.resize(index + 1, '\0');
      filled_.resize(index + 1, false);
    }
    if (!filled_[index]) {
      bytes_[index] = static_cast<char>(payload[i]);
      filled_[index] = true;
    } else if (bytes_[index] != static_cast<char>(payload[i])) {
      ++conflictingBytes_;
    }
  }
}

std::string StreamAssembler::text() const {
  std::string out;
  for (std::size_t i = 0; i < bytes_.size(); ++i) {
    if (filled_[i]) {
      out.push_back(bytes_[i]);
    } else if (i == 0 || filled_[i - 1]) {
      out.append("<hole>");
    }
  }
  return out;
}

std::vector<DirectionKey> CaptureContents::connections() const {
  std::vector<DirectionKey> out;
  for (const auto& [key, stream] : controlStreams) {
    if (controlPorts.count(key.second.port) != 0) out.push_back(key);
  }
  return out;
}

namespace {

bool checksumsValid(std::span<const std::uint8_t> ipPacket) {
#ifdef FTPALG_HAVE_TEST_SUPPORT
  return testing::independentChecksumsValid(ipPacket);
#else
  return checksum::verifyPacket(ipPacket);
#endif
}

}  // namespace

CaptureContents readCapture(const fs::path& path, const std::set<std::uint16_t>& controlPorts) {
  CaptureContents contents;
  contents.controlPorts = controlPorts;
  auto source = io::PcapSource::open(path.string());
  if (!source) {
    contents.error = source.error();
    return contents;
  }
  contents.linkType = source.value()->linkType();
  for (;;) {
    auto next = source.value()->next();
    if (!next) {
      contents.error = next.error();
      return contents;
    }
    if (!next.value()) return contents;
    ++contents.records;
    const SourcePacket& packet = *next.value();
    if (!packet.controlCandidate) continue;  // not IP, or truncated by the snap length
    const auto view = PacketView::parse(packet.ipPacket);
    if (!view) continue;
    if (!checksumsValid(view->ipPacket())) {
      contents.badChecksumPackets.emplace_back(view->ipPacket().begin(), view->ipPacket().end());
    }
    if (controlPorts.count(view->dstPort()) != 0 || controlPorts.count(view->srcPort()) != 0) {
      contents.controlStreams[{view->src(), view->dst()}].add(*view);
    }
  }
}

std::vector<std::string> streamLines(const std::string& stream) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < stream.size()) {
    std::size_t end = stream.find('\n', start);
    const bool terminated = end != std::string::npos;
    if (!terminated) end = stream.size();
    std::string line = stream.substr(start, end - start);
    if (terminated && !line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(std::move(line));
    start = terminated ? end + 1 : end;
  }
  return lines;
}

}  // namespace ftpalg::golden
