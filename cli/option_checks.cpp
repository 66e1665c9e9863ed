#include "option_checks.h"

#include <sstream>

#include "fastbert/common/bounded_number.h"
#include "fastbert/common/threads.h"

namespace fastbert::cli {

CLI::Validator integer_in(int64_t min, int64_t max) {
  return CLI::Validator([min, max](std::string& text) { return integer_problem(text, min, max); },
                        "INT in [" + std::to_string(min) + ", " + std::to_string(max) + "]");
}

CLI::Validator number_in(double min, double max) {
  std::ostringstream desc;
  desc << "NUMBER in [" << min << ", " << max << "]";
  return CLI::Validator([min, max](std::string& text) { return number_problem(text, min, max); }, desc.str());
}

CLI::Validator thread_count() { return integer_in(0, kMaxThreads); }

}  // namespace fastbert::cli
