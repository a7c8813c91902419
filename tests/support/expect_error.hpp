#pragma once
/// Checks of errors shared by the test executables.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <initializer_list>
#include <string>
#include <typeinfo>

#include "core/error.hpp"
#include "test_support.hpp"

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

/// Makes a FIFO at `fifo` and checks that `read` (which reads it) throws a
/// DataError naming it as a FIFO, without waiting for a writer: a read that
/// blocks fails the test instead of hanging the suite.
template <typename F>
void expect_fifo_refused(const std::filesystem::path& fifo, F&& read) {
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0) << fifo;
  std::string msg;
  EXPECT_TRUE(returns_without_blocking_on_fifo(fifo, [&] { msg = error_message<DataError>(read); }))
      << "reading the FIFO " << fifo << " blocked";
  expect_mentions(msg, {fifo.string(), "is not a regular file (FIFO)"});
}

}  // namespace sibp::testing

namespace sibp::testing::names {
using testing::error_message;
using testing::expect_mentions;
}  // namespace sibp::testing::names
