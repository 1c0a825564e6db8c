#include "cli.h"

namespace brokerkey::cli {

std::optional<std::string> Args::value(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return std::nullopt;
  return it->second;
}

std::string Args::value_or(const std::string& name, const std::string& fallback) const {
  return value(name).value_or(fallback);
}

std::optional<std::size_t> Args::count(const std::string& name) const {
  auto text = value(name);
  if (!text) return std::nullopt;
  if (text->empty() || text->size() > 9 || text->find_first_not_of("0123456789") != std::string::npos) {
    throw UsageError("--" + name + " takes a whole number, got '" + *text + "'");
  }
  return std::stoul(*text);
}

Args parse(const std::vector<std::string>& words, const Spec& spec) {
  Args args;
  bool options_done = false;
  for (std::size_t i = 0; i < words.size(); ++i) {
    const std::string& word = words[i];
    if (options_done || word.size() < 2 || word.rfind("--", 0) != 0) {
      if (!options_done && word.size() > 1 && word[0] == '-') {
        throw UsageError("unknown option '" + word + "'");
      }
      args.positional_.push_back(word);
      continue;
    }
    if (word == "--") {
      options_done = true;
      continue;
    }
    std::string name = word.substr(2);
    std::optional<std::string> inline_value;
    if (auto eq = name.find('='); eq != std::string::npos) {
      inline_value = name.substr(eq + 1);
      name.resize(eq);
    }
    if (spec.flags.count(name)) {
      if (inline_value) throw UsageError("--" + name + " takes no value");
      args.flags_.insert(name);
    } else if (spec.value_options.count(name)) {
      if (!inline_value) {
        if (i + 1 >= words.size()) throw UsageError("--" + name + " needs a value");
        inline_value = words[++i];
      }
      if (args.values_.count(name)) throw UsageError("--" + name + " given twice");
      args.values_[name] = *inline_value;
    } else {
      throw UsageError("unknown option '--" + name + "'");
    }
  }
  if (args.positional_.size() < spec.min_positional) throw UsageError("missing argument");
  if (args.positional_.size() > spec.max_positional) {
    throw UsageError("unexpected argument '" + args.positional_[spec.max_positional] + "'");
  }
  return args;
}

}  // namespace brokerkey::cli
