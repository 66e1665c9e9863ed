#pragma once
// The tail both executables share: parse and run the chosen command; a bad
// command line gets CLI11's message and status, any other failure one
// "error: ..." line on stderr and status 1.
#include <CLI/CLI.hpp>

#include <exception>
#include <iostream>
#include <string>

namespace fastbert::cli {

inline std::string exception_message(const std::exception& e) { return e.what(); }

// `message` turns an exception into its one-line text (LibTorch's c10::Error
// carries a backtrace in what(); the training side passes msg() instead).
template <class Message = decltype(&exception_message)>
int run_app(CLI::App& app, int argc, char** argv, Message message = &exception_message) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {
    std::cerr << "error: " << message(e) << "\n";
    return 1;
  }
  return 0;
}

}  // namespace fastbert::cli
