// The keytool's command line: each command declares its options, and parse() refuses
// anything else with one line naming it.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace brokerkey::cli {

// A mistake in how the command was called: exit status 2.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Spec {
  std::set<std::string> value_options;  // --name VALUE or --name=VALUE
  std::set<std::string> flags;          // --name
  std::size_t min_positional = 0;
  std::size_t max_positional = 0;
};

class Args {
 public:
  std::optional<std::string> value(const std::string& name) const;
  std::string value_or(const std::string& name, const std::string& fallback) const;
  bool flag(const std::string& name) const { return flags_.count(name) > 0; }
  const std::vector<std::string>& positional() const { return positional_; }
  // A non-negative integer option; UsageError otherwise.
  std::optional<std::size_t> count(const std::string& name) const;

 private:
  friend Args parse(const std::vector<std::string>& words, const Spec& spec);
  std::map<std::string, std::string> values_;
  std::set<std::string> flags_;
  std::vector<std::string> positional_;
};

Args parse(const std::vector<std::string>& words, const Spec& spec);

}  // namespace brokerkey::cli
