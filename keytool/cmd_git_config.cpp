// brokerkey git-config: the git configuration that signs commits and tags with the broker key.
#include <unistd.h>

#include <cstdlib>
#include <iostream>

#include "commands.h"
#include "core/config.h"
#include "core/error.h"
#include "core/uri.h"
#include "module_client.h"

namespace brokerkey {

namespace {

// Single-quoted for a POSIX shell.
std::string shell_quoted(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

int run_git_config(const cli::Args& args) {
  Broker broker = load_broker();
  std::string format = args.value_or("format", "ssh");
  if (format != "ssh" && format != "x509") throw cli::UsageError("--format is ssh or x509, not '" + format + "'");
  const KeyRecord& key = key_in_role(broker, "current");
  if (format == "x509" && !key.certificate_der_base64) {
    throw not_found("the current key " + key.label +
                    " has no certificate, which x509 signatures carry: run 'brokerkey cert --pin-file FILE' first");
  }
  std::string consumer = args.value_or("consumer", "ci");
  if (!broker.config.find_consumer(consumer)) {
    throw cli::UsageError("no consumer '" + consumer + "': add it with 'brokerkey consumer add " + consumer + "'");
  }
  const char* home = std::getenv("HOME");
  fs::path pin_file = args.value("pin-file") ? fs::path(*args.value("pin-file"))
                                              : fs::path(home ? home : "~") / ".config/brokerkey" / (consumer + ".pin");
  fs::path allowed = args.value("allowed-signers") ? fs::path(*args.value("allowed-signers"))
                                                    : fs::path(home ? home : "~") / ".config/brokerkey/allowed_signers";
  std::string principal = args.value_or("principal", "brokerkey");
  std::string uri = key_uri(broker.config.token_label, key.label, CKO_PRIVATE_KEY) +
                    "?pin-source=file:" + fs::absolute(pin_file).string();
  std::string scope = args.flag("global") ? "--global " : "";

  std::cout << "# Sign commits and tags with the broker key " << key.label << ".\n"
            << "# The PIN of consumer '" << consumer << "' goes in " << pin_file.string()
            << " (mode 0600, readable by this user only).\n"
            << "git config " << scope << "gpg.format " << format << "\n";
  if (format == "x509") {
    std::cout << "git config " << scope << "gpg.x509.program "
              << shell_quoted(beside_this_program("brokerkey-gpgsm").string()) << "\n";
  } else {
    std::cout << "git config " << scope << "gpg.ssh.program "
              << shell_quoted(beside_this_program("brokerkey-ssh-keygen").string()) << "\n";
  }
  std::cout << "git config " << scope << "user.signingkey " << shell_quoted(uri) << "\n"
            << "git config " << scope << "commit.gpgsign true\n"
            << "git config " << scope << "tag.gpgsign true\n";
  if (format == "x509") {
    std::cout << "# Verification: brokerkey-gpgsm accepts a signature when the ledger of the broker\n"
              << "# configuration (" << locate_config().string() << ") says its key was signing then.\n";
    return 0;
  }
  std::cout << "# Verification with stock OpenSSH: every key the ledger knows, each for its lifetime.\n"
            << "mkdir -p " << shell_quoted(fs::absolute(allowed).parent_path().string()) << "\n"
            << shell_quoted(beside_this_program("brokerkey").string()) << " allowed-signers --principal " << shell_quoted(principal)
            << " > " << shell_quoted(fs::absolute(allowed).string()) << "\n"
            << "git config " << scope << "gpg.ssh.allowedSignersFile " << shell_quoted(fs::absolute(allowed).string()) << "\n";
  return 0;
}

}  // namespace

const Command kGitConfigCommand{
    "git-config",
    "print the git configuration that signs with the broker key",
    "[--format ssh|x509] [--consumer NAME] [--pin-file PATH] [--global] [SSH OPTIONS]\n\n"
    "Prints shell lines that configure git (this repository, or --global) to sign commits and\n"
    "tags with the broker key by its PKCS#11 URI. Run them with:\n"
    "  eval \"$(brokerkey git-config --consumer ci)\"\n\n"
    "  --format ssh|x509        ssh (default) signs through brokerkey-ssh-keygen and verifies\n"
    "                           with stock ssh-keygen against an allowed-signers file from the\n"
    "                           ledger; x509 signs CMS through brokerkey-gpgsm (the key needs a\n"
    "                           certificate: brokerkey cert), which also verifies, against the\n"
    "                           ledger\n"
    "  --consumer NAME          log in as consumer NAME (default ci)\n"
    "  --pin-file PATH          the consumer's PIN (default ~/.config/brokerkey/NAME.pin)\n"
    "  --global                 configure git for this user, not this repository\n\n"
    "SSH options:\n"
    "  --principal P            the principal in the allowed-signers file (default brokerkey)\n"
    "  --allowed-signers PATH   where that file is written\n"
    "                           (default ~/.config/brokerkey/allowed_signers)\n",
    {{"format", "consumer", "pin-file", "principal", "allowed-signers"}, {"global"}, 0, 0},
    run_git_config,
};

}  // namespace brokerkey
