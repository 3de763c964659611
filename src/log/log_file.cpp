#include "log_file.hpp"

#include <cerrno>
#include <cstring>

namespace ftpalg::log {

namespace {

Result<std::FILE*> openPath(const std::string& path, OpenMode mode) {
  std::FILE* file = std::fopen(path.c_str(), mode == OpenMode::Append ? "a" : "w");
  if (file == nullptr) {
    return Err{"cannot open log file \"" + path + "\": " + std::strerror(errno)};
  }
  return file;
}

}  // namespace

Result<std::unique_ptr<LogFile>> LogFile::open(const std::string& path, OpenMode mode, Flush flush) {
  if (path.empty()) return Err{std::string("log file path is empty (use \"-\" for standard output)")};
  if (path == "-") return std::unique_ptr<LogFile>(new LogFile(path, flush, stdout));
  auto file = openPath(path, mode);
  if (!file) return Err{file.error()};
  return std::unique_ptr<LogFile>(new LogFile(path, flush, file.value()));
}

LogFile::~LogFile() {
  if (file_ != nullptr) {
    if (isStdout()) {
      std::fflush(file_);
    } else {
      std::fclose(file_);
    }
  }
}

void LogFile::noteWriteError(int error) {
  if (!writeError_) {
    writeError_ =
        "write error on \"" + path_ + "\": " + (error != 0 ? std::strerror(error) : "unknown error");
  }
}

void LogFile::write(std::string_view line) {
  if (file_ == nullptr) return;
  errno = 0;
  if (std::fwrite(line.data(), 1, line.size(), file_) != line.size() ||
      (flush_ == Flush::EachLine && std::fflush(file_) != 0)) {
    noteWriteError(errno);
  }
}

void LogFile::flush() {
  if (file_ == nullptr) return;
  errno = 0;
  if (std::fflush(file_) != 0) noteWriteError(errno);
}

Status<> LogFile::reopen() {
  if (isStdout()) return okStatus();
  // Rotation: the old file was renamed away; continue in a fresh file at the same path.
  auto file = openPath(path_, OpenMode::Append);
  if (!file) return Err{file.error()};
  if (file_ != nullptr) std::fclose(file_);
  file_ = file.value();
  writeError_.reset();
  return okStatus();
}

}  // namespace ftpalg::log
