#pragma once
/// An environment variable set (or unset) for a scope.
#include <cstdlib>
#include <optional>
#include <string>

namespace sibp::testing {

/// Sets `name` to `value` (unsets it when `value` is null) for the life of the
/// object, then restores the previous value or absence. Child processes
/// started meanwhile inherit the setting.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value)
      ::setenv(name, value, 1);
    else
      ::unsetenv(name);
  }
  ~ScopedEnv() {
    if (old_)
      ::setenv(name_, old_->c_str(), 1);
    else
      ::unsetenv(name_);
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

}  // namespace sibp::testing
