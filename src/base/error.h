// rpg::Error: the one exception type inside the library. It carries a status kind that the
// C boundary maps onto rpg_status codes, and a message that already names file and line.
#pragma once
#include <stdexcept>
#include <string>

namespace rpg {

enum class Status : int {
  Ok = 0,
  InvalidArgument = -1,
  NotFound = -2,
  ParseError = -3,
  FormatError = -4,
  OutOfMemory = -5,
  DeviceError = -6,
  Unsupported = -7,
  Internal = -8,
  CommError = -9,  // distributed training: another process failed or did not answer in time
};

class Error : public std::runtime_error {
 public:
  Error(Status status, const std::string& message) : std::runtime_error(message), status_(status) {}
  Status status() const { return status_; }

 private:
  Status status_;
};

[[noreturn]] inline void fail(Status status, const std::string& message) { throw Error(status, message); }

}  // namespace rpg
