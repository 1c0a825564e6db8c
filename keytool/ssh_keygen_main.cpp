// brokerkey-ssh-keygen: git's gpg.ssh.program. Its command line is read exactly as the system
// ssh-keygen reads it (getopt(3) with ssh-keygen's option string, stopping at the first
// operand as OpenSSH's own getopt does), and it answers what needs the broker key:
//   -Y sign -n NAMESPACE -f KEY [-U] [-q] [-O hashalg=sha512] [FILE ...|-]
//        KEY a PKCS#11 URI, or a public key file whose comment is one (what git writes for
//        user.signingkey's key:: literal, or for the key gpg.ssh.defaultKeyCommand printed);
//        or a public key file holding the key brokerkey-agent lists. With an agent
//        configured (git_agent.h) every one of these is signed through the agent with
//        AgentConnection (a URI must name its current key), else through the module.
//   -l -f URI [-E sha256]   the key's fingerprint line, in ssh-keygen's format
//   -y -f URI               the key's public key line, its comment the URI (for
//                           gpg.ssh.defaultKeyCommand, so git push --signed works too)
//        (through the agent too, when one is configured)
// Every other invocation goes, unchanged, to the system ssh-keygen (verification,
// find-principals, fingerprints of key files). A PKCS#11 URI never does: it may carry a PIN
// (pin-value), which ssh-keygen would print; such a call is refused here instead.
#include <getopt.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <fstream>
#include <functional>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include "core/agent_connection.h"
#include "core/error.h"
#include "core/files.h"
#include "core/sshsig.h"
#include "core/version.h"
#include "git_agent.h"
#include "module_client.h"

namespace {

using namespace brokerkey;

// ssh-keygen.c's getopt string (OpenSSH 9.2 to 10.x), with '+': stop at the first operand.
constexpr const char* kSshKeygenOptions =
    "+ABHKLQUXceghiklopquvyC:D:E:F:I:M:N:O:P:R:V:Y:Z:a:b:f:g:m:n:r:s:t:w:z:";

struct Invocation {
  bool parsed = true;  // false: getopt refused an option (ssh-keygen prints its usage)
  std::vector<std::pair<char, std::string>> options;  // in order; value empty for flags
  std::vector<std::string> operands;

  std::optional<std::string> last(char option) const {
    std::optional<std::string> value;
    for (const auto& [name, v] : options) {
      if (name == option) value = v;
    }
    return value;
  }
  bool has(char option) const {
    for (const auto& [name, v] : options) {
      if (name == option) return true;
    }
    return false;
  }
  // Every option other than those in `allowed`.
  std::string others(std::string_view allowed) const {
    std::string out;
    for (const auto& [name, v] : options) {
      if (allowed.find(name) == std::string_view::npos && out.find(name) == std::string::npos) out += name;
    }
    return out;
  }
};

Invocation parse_like_ssh_keygen(int argc, char** argv) {
  std::vector<char*> copy(argv, argv + argc);
  copy.push_back(nullptr);
  Invocation invocation;
  opterr = 0;
  optind = 1;
  for (int opt; (opt = ::getopt(argc, copy.data(), kSshKeygenOptions)) != -1;) {
    if (opt == '?' || opt == ':') {
      invocation.parsed = false;
      return invocation;
    }
    invocation.options.emplace_back(static_cast<char>(opt), optarg ? optarg : "");
  }
  for (int i = optind; i < argc; ++i) invocation.operands.emplace_back(copy[static_cast<std::size_t>(i)]);
  return invocation;
}

[[noreturn]] void refuse(const std::string& why) {
  throw invalid_input(why + "; a PKCS#11 URI is never passed to the system ssh-keygen (it may carry a PIN)");
}

// The key of a public key file whose comment is a PKCS#11 URI: the file brokerkey git-config
// writes in client mode, or the one git writes for a key gpg.ssh.defaultKeyCommand printed
// (brokerkey-ssh-keygen -y -f URI). nullopt for any other file, which the system ssh-keygen
// then reads.
struct KeyFileUri {
  std::string uri;
  std::string public_key_line;  // "ssh-ed25519 BASE64"
};
std::optional<KeyFileUri> key_file_uri(const std::string& path) {
  std::optional<std::string> read = key_file_text(path);
  if (!read) return std::nullopt;
  const std::string& text = *read;
  if (text.rfind("ssh-ed25519 ", 0) != 0 || text.find_first_of("\r\n") != std::string::npos) return std::nullopt;
  std::size_t blob_end = text.find(' ', 12);
  if (blob_end == std::string::npos || !is_pkcs11_uri(text.substr(blob_end + 1))) return std::nullopt;
  return KeyFileUri{text.substr(blob_end + 1), text.substr(0, blob_end)};
}

std::string read_input(const std::string& file) {
  if (file == "-") return std::string(std::istreambuf_iterator<char>(std::cin), {});
  return read_text_file(file);
}

// What -Y sign is asked: the namespace, the files (none: stdin), -q.
struct SignRequest {
  std::string signature_namespace;
  std::vector<std::string> files;
  bool quiet = false;
};

SignRequest sign_request(const Invocation& invocation, bool uri) {
  if (std::string extra = invocation.others("YnfUqOv"); !extra.empty()) {
    if (uri) refuse(std::string("-Y sign with a PKCS#11 URI does not take -") + extra[0]);
    throw invalid_input(std::string("-Y sign through brokerkey-agent does not take -") + extra[0]);
  }
  SignRequest request;
  request.signature_namespace = invocation.last('n').value_or("");
  if (request.signature_namespace.empty()) throw invalid_input("Too few arguments for sign: missing namespace");
  for (const auto& [name, value] : invocation.options) {
    // ssh-keygen's only signing option; SSHSIG with Ed25519 is made with SHA-512 here.
    if (name == 'O' && value != "hashalg=sha512") {
      throw invalid_input("Invalid option \"" + uri_for_display(value) + "\" (brokerkey signs with hashalg=sha512 only)");
    }
  }
  request.files = invocation.operands;
  for (const auto& file : request.files) {
    if (file == "-" && request.files.size() > 1) throw invalid_input("Cannot sign mix of paths and standard input");
  }
  if (request.files.empty()) request.files.push_back("-");
  request.quiet = invocation.has('q');
  return request;
}

// Signs each file as ssh-keygen does: FILE.sig beside it, or stdin to stdout.
int sign_files(const SignRequest& request, const PublicKey& key, const std::function<Signature(ByteView)>& sign) {
  for (const auto& file : request.files) {
    if (!request.quiet) {
      std::cerr << (file == "-" ? std::string("Signing data on standard input") : "Signing file " + file) << "\n";
    }
    std::string message = read_input(file);
    Signature signature = sign(sshsig_signed_data(request.signature_namespace, as_bytes(message)));
    std::string armored = sshsig_armor(key, request.signature_namespace, signature);
    if (file == "-") {
      std::cout << armored << std::flush;
      continue;
    }
    fs::path output = file + ".sig";
    fs::remove(output);
    // Not fsynced, as ssh-keygen does not: git reads FILE.sig at once and deletes it.
    write_new_file(output, armored,
                   fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read,
                   Durable::no);
    if (!request.quiet) std::cerr << "Write signature to " << output.string() << "\n";
  }
  return 0;
}

// ssh-keygen -Y sign by a URI. `key_line`: the public key line of the key file that named the
// URI (git's copy of user.signingkey, or of what gpg.ssh.defaultKeyCommand printed).
// With an agent configured (git_agent.h) the URI must name the agent's current key, and the
// agent signs: the module is not loaded. The URI is what names the key, so a configuration
// keeps signing across rotations; the file's key (what git fingerprints for a push
// certificate) must still be a key of the broker's ledger: the current key, or one the
// configuration was written with before a rotation.
// Through the module the file's key must be the URI's key (else the key rotated since
// defaultKeyCommand printed it: git asks again at the next signature).
int sign(const Invocation& invocation, const std::string& uri_text, const std::optional<std::string>& key_line) {
  SignRequest request = sign_request(invocation, true);
  if (auto socket = configured_agent()) {
    AgentConnection agent(*socket);
    AgentKey named = agent_key_named(agent, uri_text, true);
    if (key_line) {
      std::optional<PublicKey> file_key = ed25519_from_public_key_line(*key_line);
      if (!file_key || !named.view.ledger.find(fingerprint_of(*file_key))) {
        throw invalid_input("the key file names " + uri_for_display(uri_text) +
                            " but holds a key that is no key of the broker's ledger (brokerkey-agent at " +
                            socket->string() + "); write it again with 'brokerkey git-config'");
      }
    }
    const PublicKey key = named.key.public_key;
    return sign_files(request, key, [&](ByteView data) { return agent_signature(agent, key, data); });
  }
  KeyUri uri = parse_key_uri(uri_text);
  Secret pin = pin_from_uri(uri);
  UriSigner signer(module_path(uri.module_path), uri, pin);
  if (key_line && ssh_public_key_line(signer.public_key(), "") != *key_line) {
    throw invalid_input("the key file names " + uri_for_display(uri_text) +
                        ", whose key is no longer the key in the file (rotated?); ask for the key again");
  }
  return sign_files(request, signer.public_key(), [&](ByteView data) { return signer.sign(data); });
}

// The public key a URI names and its label: the agent's current key when an agent is
// configured (the URI must name it), else what the module shows.
UriPublicKey public_key_named(const KeyUri& uri, const std::string& uri_text) {
  if (auto socket = configured_agent()) {
    AgentConnection agent(*socket);
    KeyRecord key = agent_key_named(agent, uri_text, false).key;
    return UriPublicKey{key.public_key, key.label};
  }
  return uri_public_key(module_path(uri.module_path), uri);
}

// ssh-keygen -Y sign -f KEY.pub through brokerkey-agent, when KEY.pub holds the key the agent
// lists (git writes the key gpg.ssh.defaultKeyCommand printed into such a file). nullopt: the
// agent does not list that key, so the request is not the broker's (the system ssh-keygen
// gets it).
std::optional<int> sign_through_agent(const Invocation& invocation, const fs::path& socket, const PublicKey& key) {
  AgentConnection agent(socket);
  Bytes blob = ssh_wire_blob(key);
  std::vector<agent::Identity> identities = ask_identities(agent);
  bool listed = std::any_of(identities.begin(), identities.end(),
                            [&](const agent::Identity& identity) { return identity.key_blob == blob; });
  if (!listed) return std::nullopt;
  SignRequest request = sign_request(invocation, false);
  return sign_files(request, key, [&](ByteView data) { return agent_signature(agent, key, data); });
}

// ssh-keygen -l -f URI: "256 SHA256:... LABEL (ED25519)", as fingerprint_one_key prints it.
int fingerprint(const Invocation& invocation, const std::string& uri_text) {
  if (std::string extra = invocation.others("lfEq"); !extra.empty()) {
    refuse(std::string("-l with a PKCS#11 URI does not take -") + extra[0]);
  }
  if (!invocation.operands.empty()) refuse("-l with a PKCS#11 URI takes no operand");
  if (auto hash = invocation.last('E'); hash && *hash != "sha256") {
    throw invalid_input("-E " + *hash + ": the fingerprint of a PKCS#11 key is shown as sha256 only");
  }
  KeyUri uri = parse_key_uri(uri_text);
  UriPublicKey key = public_key_named(uri, uri_text);
  std::cout << "256 " << ssh_fingerprint(key.key) << " " << (key.label.empty() ? "no comment" : key.label)
            << " (ED25519)\n";
  return 0;
}

// ssh-keygen -y -f URI: the public key line, commented with the URI, which git writes into the
// key file it then signs with (gpg.ssh.defaultKeyCommand). The URI must be fit for that: no
// pin-value (git and ssh-keygen would show it), nothing that splits the line.
int print_public(const Invocation& invocation, const std::string& uri_text) {
  if (std::string extra = invocation.others("yfq"); !extra.empty()) {
    refuse(std::string("-y with a PKCS#11 URI does not take -") + extra[0]);
  }
  if (!invocation.operands.empty()) refuse("-y with a PKCS#11 URI takes no operand");
  KeyUri uri = parse_key_uri(uri_text);
  if (uri.pin_value) {
    throw invalid_input("-y prints the URI as the key's comment, which git and ssh-keygen show: give the PIN as "
                        "pin-source=file:..., not pin-value");
  }
  for (char c : uri_text) {
    auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte >= 0x7f) throw invalid_input("-y: the URI must be written without spaces or control characters");
  }
  UriPublicKey key = public_key_named(uri, uri_text);
  std::cout << ssh_public_key_line(key.key, uri_text) << "\n";
  return 0;
}

[[noreturn]] void hand_to_ssh_keygen(char** argv) {
  const char* program = std::getenv("BROKERKEY_SSH_KEYGEN");
  if (!program || !*program) program = "/usr/bin/ssh-keygen";
  // git's brokerkey.agent ('brokerkey git-config --agent') is where the system ssh-keygen finds
  // the key; with a client configuration it is not read (git_agent.h: the configuration wins),
  // which keeps a `git config` process off every verification. A configuration that cannot be
  // read is not this call's business: verification does not need it.
  bool client = false;
  try {
    client = client_config_agent().has_value();
  } catch (const Error&) {
  }
  if (!client) {
    if (auto agent = git_configured_agent()) ::setenv("SSH_AUTH_SOCK", agent->c_str(), 1);
  }
  argv[0] = const_cast<char*>(program);
  ::execv(program, argv);
  std::cerr << "brokerkey-ssh-keygen: cannot run " << program << ": " << std::strerror(errno) << "\n";
  std::exit(255);
}

int run(int argc, char** argv) {
  Invocation invocation = parse_like_ssh_keygen(argc, argv);
  bool any_uri = false;
  for (int i = 1; i < argc; ++i) {
    // A URI as an argument, an option's joined value (-fpkcs11:...) or anywhere in a word.
    std::string_view word = argv[i];
    for (std::size_t at = 0; at < word.size() && !any_uri; ++at) any_uri = is_pkcs11_uri(word.substr(at));
  }
  if (!invocation.parsed) {
    if (any_uri) refuse("this command line is not one ssh-keygen accepts");
    hand_to_ssh_keygen(argv);
  }
  auto key = invocation.last('f');
  bool key_is_uri = key && is_pkcs11_uri(*key);
  if (auto op = invocation.last('Y')) {
    // ssh-keygen compares the -Y operation by prefix: -Y signature is a sign too.
    if (op->rfind("sign", 0) == 0 && key) {
      if (key_is_uri) return sign(invocation, *key, std::nullopt);
      if (auto named = key_file_uri(*key); named && !any_uri) return sign(invocation, named->uri, named->public_key_line);
      if (!any_uri) {
        if (auto public_key = ed25519_public_key_file(*key)) {
          if (auto socket = configured_agent()) {
            if (auto done = sign_through_agent(invocation, *socket, *public_key)) return *done;
          }
        }
      }
    }
  } else if (key_is_uri && invocation.has('l')) {
    return fingerprint(invocation, *key);
  } else if (key_is_uri && invocation.has('y')) {
    return print_public(invocation, *key);
  }
  if (any_uri) refuse("brokerkey-ssh-keygen answers -Y sign, -l and -y for a PKCS#11 URI, not this request");
  hand_to_ssh_keygen(argv);
}

}  // namespace

constexpr const char* kHelp =
    "Usage: brokerkey-ssh-keygen -Y sign -n NAMESPACE -f KEY [-U] [-q] [-O hashalg=sha512] [FILE...|-]\n"
    "  or:  brokerkey-ssh-keygen -l|-y -f PKCS11_URI\n"
    "  or:  brokerkey-ssh-keygen SSH-KEYGEN-ARGUMENTS...\n"
    "  or:  brokerkey-ssh-keygen --help | --version\n\n"
    "git's gpg.ssh.program for the broker key. A sign request whose KEY is a PKCS#11 URI\n"
    "(pkcs11:token=...;object=...;type=private?pin-source=file:PATH), or a public key file\n"
    "whose comment is one, is signed through the brokerkey module (through brokerkey-agent\n"
    "when one is configured, see below): each FILE gets FILE.sig, an\n"
    "armored SSHSIG (FILE - or none: stdin to stdout). -l and -y print the URI's key as\n"
    "ssh-keygen would print a key file's. A sign request whose KEY is a public key file holding\n"
    "the key brokerkey-agent lists is signed through the agent, when one is configured: the\n"
    "socket of a client configuration ('brokerkey client-config'; found through\n"
    "$BROKERKEY_CONF, ~/.config/brokerkey/ or /etc/brokerkey/), else git's brokerkey.agent\n"
    "('brokerkey git-config --agent'), which is not read when there is a client configuration.\n"
    "Through the agent, a key file whose comment is a URI signs with the key the URI names now\n"
    "(git's key:: literal written before a rotation keeps working); its key must be one the\n"
    "broker's ledger has. Every other call, verification included, goes\n"
    "unchanged to the system ssh-keygen — with SSH_AUTH_SOCK set to git's brokerkey.agent when\n"
    "'brokerkey git-config --agent' configured one — and the options are read as ssh-keygen's\n"
    "getopt reads them, so a call means what it means to ssh-keygen. A PKCS#11 URI is never\n"
    "passed on (it may carry a PIN).\n\n"
    "ssh-keygen has no long options: --help or --version as the only argument is answered\n"
    "here (ssh-keygen would refuse it); with anything else they go to ssh-keygen too.\n\n"
    "Environment:\n"
    "  BROKERKEY_SSH_KEYGEN  the ssh-keygen that gets every other call (default\n"
    "                        /usr/bin/ssh-keygen)\n"
    "  BROKERKEY_MODULE      the brokerkey module to sign through (default: the one beside\n"
    "                        this program, else the installed one)\n";

int main(int argc, char** argv) {
  if (argc == 2 && std::string_view(argv[1]) == "--version") {
    std::cout << "brokerkey-ssh-keygen " << kVersion << "\n";
    return 0;
  }
  if (argc == 2 && std::string_view(argv[1]) == "--help") {
    std::cout << kHelp;
    return 0;
  }
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "brokerkey-ssh-keygen: " << e.what() << "\n";
    return 1;
  }
}
