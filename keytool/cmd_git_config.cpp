// brokerkey git-config: the git configuration that signs commits and tags with the broker key.
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <cstring>
#include <iostream>

#include "commands.h"
#include "core/config.h"
#include "core/ed25519.h"
#include "core/error.h"
#include "core/text.h"
#include "core/uri.h"
#include "git_agent.h"
#include "module_client.h"

namespace brokerkey {

namespace {

// Single-quoted for a POSIX shell.
std::string shell_quoted(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Through brokerkey-agent: stock ssh-add names the key (so a rotation needs no change here) and
// stock ssh-keygen signs through the agent; nothing of the broker is read, so a consumer that
// holds only access to the socket can run it.
int print_agent_config(const cli::Args& args, const std::string& socket) {
  if (args.value("format").value_or("ssh") != "ssh") {
    throw cli::UsageError("--agent signs in ssh format only (x509 through the agent is not offered yet)");
  }
  for (const char* option : {"consumer", "pin-file", "principal"}) {
    if (args.value(option)) throw cli::UsageError(std::string("--") + option + " has no meaning with --agent");
  }
  fs::path path = fs::absolute(socket);
  if (path.native().size() >= 108 || path.native().find_first_of("\n\t '\"\\") != std::string::npos) {
    throw cli::UsageError("--agent needs a socket path of at most 107 characters without spaces, quotes, backslashes or newlines (git splits the key command on them)");
  }
  std::string scope = args.flag("global") ? "--global " : "";
  std::cout << "# Sign commits and tags with the broker key through brokerkey-agent at " << path.string() << ".\n"
            << "# The key is whatever the agent lists (ssh-add -L), so a rotation changes nothing here.\n"
            << "git config " << scope << "gpg.format ssh\n"
            << "git config " << scope << "gpg.ssh.program "
            << shell_quoted(beside_this_program("brokerkey-ssh-keygen").string()) << "\n"
            << "git config " << scope << kGitAgentKey << " " << shell_quoted(path.string()) << "\n"
            << "git config " << scope << "gpg.ssh.defaultKeyCommand "
            << shell_quoted("env SSH_AUTH_SOCK=" + path.string() + " ssh-add -L") << "\n"
            << "git config " << scope << "--unset-all user.signingkey || true\n"
            << "git config " << scope << "commit.gpgsign true\n"
            << "git config " << scope << "tag.gpgsign true\n";
  if (auto allowed = args.value("allowed-signers")) {
    std::cout << "# Verification with stock OpenSSH against the broker's allowed-signers file\n"
              << "# (the operator writes it with 'brokerkey allowed-signers').\n"
              << "git config " << scope << "gpg.ssh.allowedSignersFile "
              << shell_quoted(fs::absolute(*allowed).string()) << "\n";
  }
  return 0;
}

// A file path as a URI query value (RFC 3986 pchar): other bytes percent-encoded, so a path
// with spaces stays one word of the URI.
std::string uri_path(const std::string& path) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : path) {
    auto byte = static_cast<unsigned char>(c);
    if (std::isalnum(byte) || std::strchr("/-._~!$'()*+,:@=", c)) {
      out += c;
    } else {
      out += '%';
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
    }
  }
  return out;
}

// Verification with stock OpenSSH against an allowed-signers file the keytool writes.
void print_allowed_signers(const std::string& scope, const fs::path& allowed, const std::string& principal) {
  std::cout << "# Verification with stock OpenSSH: every key the ledger knows, each for its lifetime.\n"
            << "mkdir -p " << shell_quoted(fs::absolute(allowed).parent_path().string()) << "\n"
            << shell_quoted(beside_this_program("brokerkey").string()) << " allowed-signers --principal " << shell_quoted(principal)
            << " > " << shell_quoted(fs::absolute(allowed).string()) << "\n"
            << "git config " << scope << "gpg.ssh.allowedSignersFile " << shell_quoted(fs::absolute(allowed).string()) << "\n";
}

// With a client configuration: the drop-ins sign through the agent it names, so nothing here
// names a PIN, a broker file or a socket; the key is the agent's current key each time.
int print_client_config(const cli::Args& args, const BrokerState& broker, const KeyRecord& key,
                        const std::string& format, const std::string& scope, const fs::path& allowed,
                        const std::string& principal, const fs::path& key_file) {
  for (const char* option : {"consumer", "pin-file"}) {
    if (args.value(option)) {
      throw cli::UsageError(std::string("--") + option + " has no meaning with a client configuration (" +
                            broker.config.file.string() + "): the agent knows this account's consumer");
    }
  }
  std::cout << "# Sign commits and tags with the broker key " << key.label << " through brokerkey-agent,\n"
            << "# as the client configuration " << broker.config.file.string() << " names it. No PIN, no\n"
            << "# broker file: the agent decides by this account. A rotation changes nothing here.\n"
            << "git config " << scope << "gpg.format " << format << "\n";
  if (format == "x509") {
    // The URI names the key by token and label, which a rotation keeps; brokerkey-gpgsm
    // resolves it against the agent's view and signs the CMS signed attributes through it.
    std::cout << "git config " << scope << "gpg.x509.program "
              << shell_quoted(beside_this_program("brokerkey-gpgsm").string()) << "\n"
              << "git config " << scope << "user.signingkey "
              << shell_quoted(key_uri(broker.config.token_label, key.label, CKO_PRIVATE_KEY)) << "\n";
  } else {
    // user.signingkey is a key file: the current public key, commented with the URI that names
    // the key by token and label. git hands the file to brokerkey-ssh-keygen, which signs with
    // the key the URI names now (the agent's current key), so a rotation changes nothing here,
    // and git starts no other process per signature (no gpg.ssh.defaultKeyCommand). A file, not
    // git's key:: literal: git 2.39 writes a literal into a temporary file per signature and
    // leaves it in $TMPDIR (git-for-windows/git#5440). The key part is what git fingerprints,
    // with the system ssh-keygen, for a push certificate's pusher line (git push --signed).
    std::string line = ssh_public_key_line(key.public_key, key_uri(broker.config.token_label, key.label, CKO_PRIVATE_KEY));
    std::cout << "git config " << scope << "gpg.ssh.program "
              << shell_quoted(beside_this_program("brokerkey-ssh-keygen").string()) << "\n"
              << "mkdir -p " << shell_quoted(key_file.parent_path().string()) << "\n"
              << "printf '%s\\n' " << shell_quoted(line) << " > " << shell_quoted(key_file.string()) << "\n"
              << "git config " << scope << "user.signingkey " << shell_quoted(key_file.string()) << "\n"
              << "git config " << scope << "--unset-all gpg.ssh.defaultKeyCommand || :  # unused with user.signingkey\n";
  }
  std::cout << "git config " << scope << "commit.gpgsign true\n"
            << "git config " << scope << "tag.gpgsign true\n";
  if (format == "x509") {
    std::cout << "# Verification: brokerkey-gpgsm accepts a signature when the agent's view of the ledger\n"
              << "# says its key was signing then.\n";
    return 0;
  }
  print_allowed_signers(scope, allowed, principal);
  return 0;
}

int run_git_config(const cli::Args& args) {
  if (auto socket = args.value("agent")) return print_agent_config(args, *socket);
  std::string format = args.value_or("format", "ssh");
  if (format != "ssh" && format != "x509") throw cli::UsageError("--format is ssh or x509, not '" + format + "'");
  BrokerState broker = read_broker();
  const KeyRecord& key = key_in_role(broker, "current");
  if (format == "x509" && !key.certificate_der_base64) {
    throw not_found("the current key " + key.label +
                    " has no certificate, which x509 signatures carry: run 'brokerkey cert --pin-file FILE' first" +
                    (broker.client() ? " (the broker's operator, on the broker host)" : ""));
  }
  const char* home = std::getenv("HOME");
  fs::path allowed = args.value("allowed-signers") ? fs::path(*args.value("allowed-signers"))
                                                    : fs::path(home ? home : "~") / ".config/brokerkey/allowed_signers";
  std::string principal = args.value_or("principal", "brokerkey");
  std::string scope = args.flag("global") ? "--global " : "";
  // The output is shell: a line break in a path would start a command of its own.
  for (auto [what, value] : {std::pair{"the allowed-signers path", allowed.string()}, {"--principal", principal},
                             {"this program's path", beside_this_program("brokerkey").string()}}) {
    if (auto fault = text_fault(value)) throw cli::UsageError(std::string(what) + " " + *fault);
  }
  if (broker.client()) {
    fs::path key_file = fs::path(home ? home : "~") / ".config/brokerkey/git-signing-key.pub";
    return print_client_config(args, broker, key, format, scope, allowed, principal, key_file);
  }

  std::string consumer = args.value_or("consumer", "ci");
  if (!broker.config.find_consumer(consumer)) {
    throw cli::UsageError("no consumer '" + consumer + "': add it with 'brokerkey consumer add " + consumer + "'");
  }
  fs::path pin_file = args.value("pin-file") ? fs::path(*args.value("pin-file"))
                                              : fs::path(home ? home : "~") / ".config/brokerkey" / (consumer + ".pin");
  std::string uri = key_uri(broker.config.token_label, key.label, CKO_PRIVATE_KEY) +
                    "?pin-source=file:" + uri_path(fs::absolute(pin_file).string());
  if (auto fault = text_fault(pin_file.string())) throw cli::UsageError(std::string("the PIN file path ") + *fault);

  std::cout << "# Sign commits and tags with the broker key " << key.label << ".\n"
            << "# The PIN of consumer '" << consumer << "' goes in " << pin_file.string()
            << " (mode 0600, readable by this user only).\n"
            << "git config " << scope << "gpg.format " << format << "\n";
  if (format == "x509") {
    std::cout << "git config " << scope << "gpg.x509.program "
              << shell_quoted(beside_this_program("brokerkey-gpgsm").string()) << "\n";
    std::cout << "git config " << scope << "user.signingkey " << shell_quoted(uri) << "\n";
  } else {
    // git asks the system ssh-keygen (from PATH, not gpg.ssh.program) for the fingerprint of
    // user.signingkey when it signs a push certificate, and a URI is not a key file. So the
    // key comes from gpg.ssh.defaultKeyCommand instead: the drop-in prints the current public
    // key with the URI as its comment (git's key:: form), ssh-keygen fingerprints that, and git
    // hands the drop-in a key file it recognises. Follows rotations: nothing here names a key.
    std::string dropin = beside_this_program("brokerkey-ssh-keygen").string();
    std::cout << "git config " << scope << "gpg.ssh.program " << shell_quoted(dropin) << "\n"
              << "git config " << scope << "gpg.ssh.defaultKeyCommand "
              << shell_quoted(shell_quoted(dropin) + " -y -f " + shell_quoted(uri)) << "\n"
              << "git config " << scope << "--unset-all user.signingkey || :  # it would win over defaultKeyCommand\n";
  }
  std::cout << "git config " << scope << "commit.gpgsign true\n"
            << "git config " << scope << "tag.gpgsign true\n";
  if (format == "x509") {
    std::cout << "# Verification: brokerkey-gpgsm accepts a signature when the ledger of the broker\n"
              << "# configuration (" << broker.config.file.string() << ") says its key was signing then.\n";
    return 0;
  }
  print_allowed_signers(scope, allowed, principal);
  return 0;
}

}  // namespace

const Command kGitConfigCommand{
    "git-config",
    "print the git configuration that signs with the broker key",
    "[--format ssh|x509] [--consumer NAME] [--pin-file PATH] [--global] [SSH OPTIONS]\n"
    "  or:  brokerkey git-config --agent SOCKET [--allowed-signers PATH] [--global]\n\n"
    "Prints shell lines that configure git (this repository, or --global) to sign commits and\n"
    "tags with the broker key by its PKCS#11 URI. Run them with:\n"
    "  lines=$(brokerkey git-config --consumer ci) && eval \"$lines\"\n"
    "(eval \"$(brokerkey git-config ...)\" alone succeeds and configures nothing when it fails.)\n"
    "With --agent, git signs through brokerkey-agent at SOCKET instead: no URI, no PIN file,\n"
    "no broker file; stock ssh-add names the key and stock ssh-keygen signs, the agent decides\n"
    "by the account git runs as, and a rotation changes nothing.\n"
    "With a client configuration (brokerkey client-config), both formats sign through the\n"
    "agent it names: no PIN file, no broker file, no --consumer (the agent knows the account).\n"
    "In ssh format user.signingkey is then ~/.config/brokerkey/git-signing-key.pub, the current\n"
    "public key commented with the key's PKCS#11 URI by token and label: brokerkey-ssh-keygen signs with\n"
    "the key that URI names at each signature, so a rotation changes nothing, and git runs no\n"
    "key command per signature. After a rotation a signed push's pusher line keeps naming the\n"
    "key the configuration was written with, until it is written again.\n\n"
    "  --format ssh|x509        ssh (default) signs through brokerkey-ssh-keygen and verifies\n"
    "                           with stock ssh-keygen against an allowed-signers file from the\n"
    "                           ledger; x509 signs CMS through brokerkey-gpgsm (the key needs a\n"
    "                           certificate: brokerkey cert), which also verifies, against the\n"
    "                           ledger\n"
    "  --consumer NAME          log in as consumer NAME (default ci)\n"
    "  --pin-file PATH          the consumer's PIN (default ~/.config/brokerkey/NAME.pin)\n"
    "  --global                 configure git for this user, not this repository\n"
    "  --agent SOCKET           sign through brokerkey-agent's socket (ssh format only)\n\n"
    "SSH options:\n"
    "  --principal P            the principal in the allowed-signers file (default brokerkey)\n"
    "  --allowed-signers PATH   where that file is written\n"
    "                           (default ~/.config/brokerkey/allowed_signers)\n",
    {{"format", "consumer", "pin-file", "principal", "allowed-signers", "agent"}, {"global"}, 0, 0},
    run_git_config,
};

}  // namespace brokerkey
