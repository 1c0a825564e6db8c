// brokerkey allowed-signers: an OpenSSH allowed_signers file with every key the ledger knows,
// each valid for the time it signed, so signatures made before a rotation keep verifying.
#include <iostream>

#include "commands.h"

namespace brokerkey {

namespace {

// allowed_signers time format: YYYYMMDDHHMMSSZ (UTC).
std::string ssh_time(TimePoint t) {
  std::string text = format_rfc3339(t);  // YYYY-MM-DDTHH:MM:SSZ
  std::string out;
  for (char c : text) {
    if (c != '-' && c != ':' && c != 'T') out.push_back(c);
  }
  return out;
}

int run_allowed_signers(const cli::Args& args) {
  auto principal = args.value("principal");
  if (!principal || principal->empty()) throw cli::UsageError("--principal P is required");
  if (principal->find_first_of(" \t\",") != std::string::npos) {
    throw cli::UsageError("--principal may not contain spaces, quotes or commas");
  }
  std::string space = args.value_or("namespace", "git");
  Broker broker = load_broker();
  TimePoint at = now();
  std::cout << "# allowed_signers for " << *principal << ", from the brokerkey ledger "
            << broker.config.ledger.string() << " (head " << broker.state.head_hash << ")\n";
  for (const auto& key : broker.state.keys) {
    std::cout << "# " << key.label << " " << key.fingerprint.hex() << " " << to_string(key.status_at(at));
    if (key.revoked_at) std::cout << " (" << key.revoke_reason << ")";
    auto window = signing_window(key);
    if (!window) {
      std::cout << ": verifies nothing\n";
      continue;
    }
    std::cout << "\n" << *principal << " namespaces=\"" << space << "\",valid-after=\""
              << ssh_time(window->from) << "\"";
    if (window->until) std::cout << ",valid-before=\"" << ssh_time(*window->until) << "\"";
    std::cout << " " << ssh_public_key_line(key.public_key, "") << "\n";
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
    "--compromised-since only signatures from before that time.\n",
    {{"principal", "namespace"}, {}, 0, 0},
    run_allowed_signers,
};

}  // namespace brokerkey
