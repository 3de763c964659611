// LogFile: where decision-log lines go: a file (appended or truncated) or standard output ("-").
//
// Each write() is one complete line (the caller supplies the trailing '\n'), written with a single
// fwrite and flushed, so concurrent readers (tail -f, a log shipper) never see half a line and a
// crash loses at most the line being written. reopen() closes and reopens the same path (SIGHUP
// after log rotation); for standard output it does nothing.
#pragma once

#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

#include "ftpalg/core/result.hpp"

namespace ftpalg::log {

enum class OpenMode : unsigned char {
  Append,    // live daemon: keep what earlier runs wrote
  Truncate,  // replay: the file holds exactly this run's decisions
};

class LogFile {
 public:
  // "-" means standard output. Errors name the path and the system's reason.
  static Result<std::unique_ptr<LogFile>> open(const std::string& path, OpenMode mode);
  ~LogFile();
  LogFile(const LogFile&) = delete;
  LogFile& operator=(const LogFile&) = delete;

  // Writes `line` (which should end in '\n') and flushes. Write errors are remembered: the
  // decision log must not stop packet processing, but the runner reports them at exit.
  void write(std::string_view line);
  void flush();
  Status<> reopen();

  bool hadWriteError() const { return writeError_; }
  const std::string& path() const { return path_; }

 private:
  LogFile(std::string path, OpenMode mode, std::FILE* file) : path_(std::move(path)), mode_(mode), file_(file) {}
  bool isStdout() const { return path_ == "-"; }

  std::string path_;
  OpenMode mode_;
  std::FILE* file_;
  bool writeError_ = false;
};

}  // namespace ftpalg::log
