// The keytool's option parser is glibc's getopt_long: long options only, "--name VALUE" or
// "--name=VALUE", unambiguous abbreviations as every GNU tool accepts them, "--" ending the
// options. Options and arguments may be mixed ('-' mode: getopt returns them in order, so
// POSIXLY_CORRECT changes nothing). Every mistake becomes one UsageError naming it.
#include "cli.h"

#include <getopt.h>

#include <algorithm>

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
  if (text->empty() || text->size() > 9 ||
      text->find_first_not_of("0123456789") != std::string::npos) {
    throw UsageError("--" + name + " takes a whole number, got '" + *text + "'");
  }
  return std::stoul(*text);
}

namespace {

// getopt_long reports an option by the value in its table entry: kFirstOption + its index.
constexpr int kFirstOption = 256;

// The option word getopt just refused, without any "=VALUE".
std::string refused_word(const std::vector<char*>& argv, int next) {
  std::string word = argv[static_cast<std::size_t>(next - 1)];
  if (auto eq = word.find('='); eq != std::string::npos && word.rfind("--", 0) == 0)
    word.resize(eq);
  return word;
}

// The long options a refused "--abbrev" could have meant (getopt says only "ambiguous").
std::vector<std::string> candidates(const std::vector<std::string>& names,
                                    const std::string& word) {
  std::vector<std::string> found;
  if (word.size() <= 2 || word.rfind("--", 0) != 0) return found;
  for (const auto& name : names) {
    if (name.rfind(word.substr(2), 0) == 0) found.push_back("--" + name);
  }
  return found;
}

}  // namespace

Args parse(const std::vector<std::string>& words, const Spec& spec) {
  std::vector<std::string> names;
  std::vector<option> table;
  for (const auto* group : {&spec.value_options, &spec.flags}) {
    for (const auto& name : *group) {
      int has_arg = group == &spec.value_options ? required_argument : no_argument;
      table.push_back(
          {name.c_str(), has_arg, nullptr, kFirstOption + static_cast<int>(names.size())});
      names.push_back(name);
    }
  }
  table.push_back({nullptr, 0, nullptr, 0});

  // getopt_long wants a mutable argv with the program name first.
  std::string program = "brokerkey";
  std::vector<std::string> storage(words);
  std::vector<char*> argv{program.data()};
  for (auto& word : storage) argv.push_back(word.data());
  argv.push_back(nullptr);
  const int argc = static_cast<int>(argv.size() - 1);

  Args args;
  opterr = 0;  // the messages below, not getopt's own
  optind = 0;  // a full re-initialisation of getopt's state
  // '-': non-options come back in order as option 1; ':': a missing value returns ':'.
  for (;;) {
    int index = -1;
    int got = getopt_long(argc, argv.data(), "-:", table.data(), &index);
    if (got == -1) break;
    if (got == 1) {
      args.positional_.push_back(optarg);
    } else if (got >= kFirstOption) {
      const std::string& name = names[static_cast<std::size_t>(got - kFirstOption)];
      if (spec.flags.count(name)) {
        args.flags_.insert(name);
      } else if (!args.values_.emplace(name, optarg).second) {
        throw UsageError("--" + name + " given twice");
      }
    } else if (got == ':') {
      throw UsageError("--" + names[static_cast<std::size_t>(optopt - kFirstOption)] +
                       " needs a value");
    } else if (optopt >= kFirstOption) {
      // '?' for a known option: a value given to a flag.
      throw UsageError("--" + names[static_cast<std::size_t>(optopt - kFirstOption)] +
                       " takes no value");
    } else if (optopt != 0) {
      throw UsageError(std::string("unknown option '-") + static_cast<char>(optopt) + "'");
    } else {
      std::string word = refused_word(argv, optind);
      auto meant = candidates(names, word);
      if (meant.size() > 1) {
        std::string list;
        for (const auto& name : meant) list += (list.empty() ? "" : ", ") + name;
        throw UsageError("ambiguous option '" + word + "' (" + list + ")");
      }
      throw UsageError("unknown option '" + word + "'");
    }
  }
  // After "--": everything left is an argument.
  for (int i = optind; i < argc; ++i) args.positional_.push_back(argv[static_cast<std::size_t>(i)]);

  if (args.positional_.size() < spec.min_positional) throw UsageError("missing argument");
  if (args.positional_.size() > spec.max_positional) {
    throw UsageError("unexpected argument '" + args.positional_[spec.max_positional] + "'");
  }
  return args;
}

}  // namespace brokerkey::cli
