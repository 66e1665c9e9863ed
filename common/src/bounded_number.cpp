#include "fastbert/common/bounded_number.h"

#include <charconv>
#include <cmath>
#include <sstream>
#include <system_error>

#include "fastbert/common/error.h"

namespace fastbert {

namespace {

std::string range_text(int64_t min, int64_t max) { return "[" + std::to_string(min) + ", " + std::to_string(max) + "]"; }

std::string range_text(double min, double max) {
  std::ostringstream s;
  s << "[" << min << ", " << max << "]";
  return s.str();
}

}  // namespace

std::string out_of_range(int64_t value, int64_t min, int64_t max) {
  return std::to_string(value) + " is out of range " + range_text(min, max);
}

std::string integer_problem(std::string_view text, int64_t min, int64_t max) {
  std::string_view digits = text;
  if (!digits.empty() && digits.front() == '+') digits.remove_prefix(1);  // from_chars takes '-' only
  int64_t value = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (digits.empty() || end != digits.data() + digits.size() || (ec != std::errc() && ec != std::errc::result_out_of_range))
    return "\"" + std::string(text) + "\" is not an integer in " + range_text(min, max);
  if (ec == std::errc::result_out_of_range || value < min || value > max)
    return std::string(text) + " is out of range " + range_text(min, max);
  return "";
}

std::string number_problem(std::string_view text, double min, double max) {
  const std::string s(text);
  double value = 0;
  std::size_t used = 0;
  try {
    value = std::stod(s, &used);
  } catch (const std::out_of_range&) {
    return s + " is out of range " + range_text(min, max);
  } catch (const std::exception&) {
    used = 0;
  }
  if (s.empty() || used != s.size() || std::isnan(value))
    return "\"" + s + "\" is not a number in " + range_text(min, max);
  if (!(value >= min && value <= max)) return s + " is out of range " + range_text(min, max);
  return "";
}

int64_t parse_bounded_integer(std::string_view name, std::string_view text, int64_t min, int64_t max) {
  if (std::string problem = integer_problem(text, min, max); !problem.empty())
    throw Error(std::string(name) + ": " + problem);
  int64_t value = 0;
  std::from_chars(text.data() + (!text.empty() && text.front() == '+'), text.data() + text.size(), value);
  return value;
}

double parse_bounded_number(std::string_view name, std::string_view text, double min, double max) {
  if (std::string problem = number_problem(text, min, max); !problem.empty())
    throw Error(std::string(name) + ": " + problem);
  return std::stod(std::string(text));
}

void check_bounded(std::string_view name, int64_t value, int64_t min, int64_t max) {
  if (value < min || value > max) throw Error(std::string(name) + ": " + out_of_range(value, min, max));
}

}  // namespace fastbert
