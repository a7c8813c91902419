#pragma once
/// Checks of error messages shared by the test executables.
#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <typeinfo>

namespace sibp::testing {

/// Runs f, expecting exactly an exception of type E; returns its message
/// ("" after recording a failure otherwise).
template <typename E, typename F>
std::string error_message(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected " << typeid(E).name() << ", got another exception: " << e.what();
    return "";
  }
  ADD_FAILURE() << "expected an exception of type " << typeid(E).name() << ", none was thrown";
  return "";
}

/// Checks that msg contains every one of parts.
inline void expect_mentions(const std::string& msg, std::initializer_list<std::string> parts) {
  for (const auto& p : parts) EXPECT_NE(msg.find(p), std::string::npos) << "'" << p << "' not in: " << msg;
}

}  // namespace sibp::testing
