#include "core/key_label.h"

#include <vector>

#include "core/error.h"

namespace brokerkey {

namespace {
constexpr std::string_view kAlgorithm = "ed25519";
constexpr std::size_t kMaxLabel = 64;

bool is_word(std::string_view word) {
  if (word.empty() || word.size() > 32) return false;
  for (char c : word) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return false;
  }
  return true;
}

std::vector<std::string_view> split_words(std::string_view text) {
  std::vector<std::string_view> words;
  std::size_t start = 0;
  for (;;) {
    std::size_t dash = text.find('-', start);
    words.push_back(text.substr(start, dash - start));
    if (dash == std::string_view::npos) return words;
    start = dash + 1;
  }
}

void check_part(std::string_view part, std::string_view what, bool allow_dashes) {
  auto words = allow_dashes ? split_words(part) : std::vector<std::string_view>{part};
  for (auto word : words) {
    if (!is_word(word) || word == kAlgorithm) {
      throw invalid_input(std::string(what) + " '" + std::string(part) + "' must be " +
                          (allow_dashes ? "lowercase words [a-z0-9] joined by '-'"
                                        : "one lowercase word [a-z0-9]") +
                          ", not containing 'ed25519'");
    }
  }
}
}  // namespace

std::string make_key_label(const KeyName& name) {
  check_part(name.service, "service", false);
  check_part(name.purpose, "purpose", true);
  check_part(name.env, "env", false);
  std::string label = name.service + "-" + name.purpose + "-ed25519-" + name.env;
  if (label.size() > kMaxLabel) {
    throw invalid_input("key label '" + label + "' is longer than 64 characters");
  }
  return label;
}

KeyName parse_key_label(std::string_view label) {
  auto words = split_words(label);
  std::size_t algorithm_at = 0;
  for (std::size_t i = 0; i < words.size(); ++i) {
    if (words[i] == kAlgorithm) algorithm_at = i;
  }
  // service, at least one purpose word, ed25519, env
  if (words.size() < 4 || algorithm_at != words.size() - 2) {
    throw invalid_input("key label '" + std::string(label) +
                        "' does not have the form <service>-<purpose>-ed25519-<env>");
  }
  KeyName name{std::string(words[0]), {}, std::string(words.back())};
  std::size_t purpose_start = words[0].size() + 1;
  std::size_t purpose_end = label.size() - words.back().size() - kAlgorithm.size() - 2;
  name.purpose = std::string(label.substr(purpose_start, purpose_end - purpose_start));
  if (make_key_label(name) != label) {
    throw invalid_input("key label '" + std::string(label) + "' is not canonical");
  }
  return name;
}

void check_token_label(std::string_view label) {
  if (label.empty() || label.size() > 24) {
    throw invalid_input("token label '" + std::string(label) + "' must be 1 to 24 characters");
  }
  for (char c : label) {
    if (c < 0x21 || c > 0x7e || c == ';' || c == '%') {
      throw invalid_input("token label '" + std::string(label) +
                          "' may hold only printable ASCII without spaces, ';' or '%'");
    }
  }
}

}  // namespace brokerkey
