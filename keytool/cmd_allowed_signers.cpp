// brokerkey allowed-signers: an OpenSSH allowed_signers file with every key the ledger knows,
// each valid for the time it signed, so signatures made before a rotation keep verifying. With a
// client configuration the keys and their times are brokerkey-agent's view of the ledger: the
// same records, the same signing_window rule.
#include <iostream>

#include "commands.h"
#include "core/text.h"

namespace brokerkey {

namespace {

// allowed_signers time format: YYYYMMDDHHMMSSZ (UTC), which ssh-keygen reads at one-second
// resolution (misc.c parse_absolute_time).
std::string ssh_time(TimePoint t) {
  std::string text = format_rfc3339(t);  // YYYY-MM-DDTHH:MM:SSZ
  std::string out;
  for (char c : text) {
    if (c != '-' && c != ':' && c != 'T') out.push_back(c);
  }
  return out;
}

// The options of a key's line for its signing window. ssh-keygen accepts a signature when
// valid-after <= time <= valid-before (both inclusive, whole seconds; sshsig.c), and refuses a
// whole line whose valid-before is not after its valid-after. So: valid-after is the window's
// first second (rounded down already), valid-before its last (the exclusive end minus one
// second), and a window of a single second is written one second longer rather than as a line
// ssh-keygen rejects: never shorter than the key's life. A start at or before 1970 (which
// ssh-keygen cannot read) is left out: no lower bound.
std::string validity_options(const SigningWindow& window) {
  std::string out;
  bool after = window.from.time_since_epoch().count() > 0;
  if (after) out += ",valid-after=\"" + ssh_time(window.from) + "\"";
  if (window.until) {
    TimePoint last = *window.until - std::chrono::seconds(1);
    if (after && last <= window.from) last = window.from + std::chrono::seconds(1);
    out += ",valid-before=\"" + ssh_time(last) + "\"";
  }
  return out;
}

// A principal or namespace: one word of printable ASCII without the characters
// allowed_signers gives meaning (whitespace ends the field, '"' quotes, ',' separates a list,
// '*' '?' '!' are patterns, '#' starts a comment, '\\' escapes).
void check_ssh_word(std::string_view what, std::string_view word) {
  if (word.empty() || word.size() > 256) throw cli::UsageError(std::string(what) + " must be 1 to 256 characters");
  for (char c : word) {
    if (c < 0x21 || c > 0x7e || std::string_view("\",*?!#\\").find(c) != std::string_view::npos) {
      throw cli::UsageError(std::string(what) + " '" + printable(word) +
                            "' may not contain spaces, control characters or any of \" , * ? ! # \\");
    }
  }
}

int run_allowed_signers(const cli::Args& args) {
  auto principal = args.value("principal");
  if (!principal) throw cli::UsageError("--principal P is required");
  check_ssh_word("--principal", *principal);
  // namespaces="a,b": a list of words.
  std::string space = args.value_or("namespace", "git");
  for (std::size_t start = 0;;) {
    std::size_t comma = space.find(',', start);
    check_ssh_word("each --namespace", std::string_view(space).substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  BrokerState broker = read_broker();
  TimePoint at = broker.at;
  // Comment lines: every value in them kept the rule of core/text.h at the ledger's fold, and
  // goes through printable() all the same, so none can end its line.
  std::cout << "# allowed_signers for " << *principal << ", from the " << printable(broker.origin())
            << " (ledger head " << printable(broker.state.head_hash) << ")\n";
  for (const auto& key : broker.state.keys) {
    std::cout << "# " << printable(key.label) << " " << key.fingerprint.hex() << " " << to_string(key.status_at(at));
    if (key.revoked_at) std::cout << " (" << printable(key.revoke_reason) << ")";
    auto window = signing_window(key);
    if (!window) {
      std::cout << ": verifies nothing\n";
      continue;
    }
    std::cout << "\n" << *principal << " namespaces=\"" << space << "\"" << validity_options(*window) << " "
              << ssh_public_key_line(key.public_key, "") << "\n";
  }
  return 0;
}

}  // namespace

const Command kAllowedSignersCommand{
    "allowed-signers",
    "write an OpenSSH allowed_signers file with every key the ledger knows",
    "--principal P [--namespace git]\n\n"
    "Prints one line per key the ledger knows, for stock 'ssh-keygen -Y verify' and git's\n"
    "gpg.ssh.allowedSignersFile, each with valid-after (when the key was committed) and, once\n"
    "it stopped signing, valid-before (when it was rotated out or retired). Signatures made\n"
    "before a rotation keep verifying after it. A revoked key verifies nothing, or with\n"
    "--compromised-since only signatures from before that time.\n"
    "With a client configuration the keys come from brokerkey-agent's view of the ledger.\n",
    {{"principal", "namespace"}, {}, 0, 0},
    run_allowed_signers,
};

}  // namespace brokerkey
