// Text that reaches a structured output: allowed_signers lines, ssh public key comments, PEM,
// brokerkey-gpgsm's status lines, JSON, the keytool's messages. One rule for every such value,
// whether it comes from the command line or from a ledger record (fold_ledger applies it to
// every text field it reads): valid UTF-8, at most `max_length` bytes, and no character that
// starts a new line or rewrites one — no C0 or C1 control character (NUL, LF, CR, ESC, ...),
// no DEL, no U+2028/U+2029 line or paragraph separator, no bidirectional override or isolate
// (U+202A-U+202E, U+2066-U+2069). Characters that only one format gives meaning (quotes and
// commas in allowed_signers options, pattern characters in principals) are that format's
// writer's to refuse or escape.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace brokerkey {

// A free text such as a revocation reason, a label, a name.
inline constexpr std::size_t kMaxText = 1024;

// Why `value` breaks the rule above, or nullopt when it keeps it.
std::optional<std::string> text_fault(std::string_view value, std::size_t max_length = kMaxText);

// Throws invalid_input("<what> <fault>") when text_fault finds one.
void check_text(std::string_view what, std::string_view value, std::size_t max_length = kMaxText);

// `value` for a terminal or a log line whatever it holds: every byte text_fault would refuse,
// and '\\' itself, written as \xNN.
std::string printable(std::string_view value);

}  // namespace brokerkey
