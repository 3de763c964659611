// LogFile: where decision-log lines go: a file (appended or truncated) or standard output ("-").
//
// Each write() is one complete line (the caller supplies the trailing '\n'), written with a single
// fwrite. With Flush::EachLine (the live daemon) each line is flushed at once, so concurrent
// readers (tail -f, a log shipper) never see half a line and a crash loses at most the line being
// written; with Flush::Buffered (replay, whose log is read after the run) lines go out in blocks
// and at flush()/close. reopen() closes and reopens the same path (SIGHUP after log rotation); for
// standard output it does nothing.
#pragma once

#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "ftpalg/core/result.hpp"

namespace ftpalg::log {

enum class OpenMode : unsigned char {
  Append,    // live daemon: keep what earlier runs wrote
  Truncate,  // replay: the file holds exactly this run's decisions
};

enum class Flush : unsigned char {
  EachLine,  // live daemon: every line reaches the file when written
  Buffered,  // replay: lines reach the file in blocks, and all of them at flush() and close
};

class LogFile {
 public:
  // "-" means standard output. Errors name the path and the system's reason.
  static Result<std::unique_ptr<LogFile>> open(const std::string& path, OpenMode mode, Flush flush);
  ~LogFile();
  LogFile(const LogFile&) = delete;
  LogFile& operator=(const LogFile&) = delete;

  // Writes `line` (which should end in '\n'), flushed per the Flush policy. The first write
  // error is remembered (writeError()): the decision log must not stop packet processing, but
  // the runner reports it.
  void write(std::string_view line);
  void flush();
  // Closes and reopens the path; a successful reopen forgets an earlier write error.
  Status<> reopen();

  // "write error on \"PATH\": REASON" (PATH "-" is standard output) after the first failed
  // write or flush since open or reopen.
  const std::optional<std::string>& writeError() const { return writeError_; }
  const std::string& path() const { return path_; }

 private:
  LogFile(std::string path, Flush flush, std::FILE* file)
      : path_(std::move(path)), flush_(flush), file_(file) {}
  bool isStdout() const { return path_ == "-"; }
  void noteWriteError(int error);

  std::string path_;
  Flush flush_;
  std::FILE* file_;
  std::optional<std::string> writeError_;
};

}  // namespace ftpalg::log
