#pragma once
// One rule and one message for every bounded number a user gives, whether a
// command-line option or a recipe key: parsed without silent wrap-around or
// truncation, checked against a stated range before any work starts, and
// refused as "NAME: VALUE is out of range [MIN, MAX]".
#include <cstdint>
#include <string>
#include <string_view>

namespace fastbert {

// What is wrong with `text` as an integer in [min, max] ("100000 is out of
// range [1, 1024]", "\"2.5\" is not an integer in [1, 1024]"), or "" when
// nothing is. A value too large for int64 is out of range too.
std::string integer_problem(std::string_view text, int64_t min, int64_t max);
// The same for a finite real number in [min, max].
std::string number_problem(std::string_view text, double min, double max);
// The message for a value already parsed.
std::string out_of_range(int64_t value, int64_t min, int64_t max);

// Throw fastbert::Error("NAME: problem") unless `text` is fine.
int64_t parse_bounded_integer(std::string_view name, std::string_view text, int64_t min, int64_t max);
double parse_bounded_number(std::string_view name, std::string_view text, double min, double max);
// Throws fastbert::Error("NAME: VALUE is out of range [MIN, MAX]").
void check_bounded(std::string_view name, int64_t value, int64_t min, int64_t max);

}  // namespace fastbert
