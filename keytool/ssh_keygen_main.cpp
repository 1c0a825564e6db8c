// brokerkey-ssh-keygen: git's gpg.ssh.program. It answers the one request that needs the
// broker key, `-Y sign -n NAMESPACE -f PKCS11_URI [-U] FILE`, by signing through the module,
// and hands every other invocation, unchanged, to the system ssh-keygen (verification,
// find-principals, fingerprints of key files).
#include <fcntl.h>
#include <getopt.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/files.h"
#include "core/sshsig.h"
#include "core/version.h"
#include "module_client.h"

namespace {

using namespace brokerkey;

struct SignRequest {
  std::string signature_namespace;
  std::string key;  // -f
  std::vector<std::string> files;
};

// ssh-keygen's own option string (OpenSSH 9.2, the ssh-keygen Debian 12 ships), read as
// OpenSSH's getopt reads it: POSIX order, so the options end at the first argument ('+'), and
// no messages of our own (':'). An option it does not list, or a missing value, is not ours:
// the real ssh-keygen gets the call and reports the mistake itself.
constexpr const char* kSshKeygenOptions =
    "+:ABHKLQUXceghiklopquvyC:D:E:F:I:M:N:O:P:R:V:Y:Z:a:b:f:g:m:n:r:s:t:w:z:";

// A sign request whose key is a PKCS#11 URI, or nullopt: not ours to answer.
std::optional<SignRequest> broker_sign_request(const std::vector<std::string>& args) {
  std::string program = "ssh-keygen";
  std::vector<std::string> storage(args);
  std::vector<char*> argv{program.data()};
  for (auto& word : storage) argv.push_back(word.data());
  argv.push_back(nullptr);
  const int argc = static_cast<int>(argv.size() - 1);

  SignRequest request;
  bool sign = false;
  opterr = 0;
  optind = 0;
  for (int got; (got = ::getopt(argc, argv.data(), kSshKeygenOptions)) != -1;) {
    switch (got) {
      case 'Y': sign = std::string(optarg) == "sign"; break;
      case 'n': request.signature_namespace = optarg; break;
      case 'f': request.key = optarg; break;
      case 'U':  // git's hint that the key is in an agent; the broker is our agent
      case 'q':
      case 'O':  // options such as hashalg= are ignored: SSHSIG with Ed25519 uses sha512
        break;
      default:
        return std::nullopt;  // every other option, and every mistake, is ssh-keygen's
    }
  }
  for (int i = optind; i < argc; ++i) request.files.emplace_back(argv[static_cast<std::size_t>(i)]);
  if (!sign || request.key.rfind("pkcs11:", 0) != 0) return std::nullopt;
  if (request.signature_namespace.empty()) throw invalid_input("-Y sign needs -n NAMESPACE");
  if (request.files.empty()) request.files.push_back("-");
  return request;
}

std::string read_input(const std::string& file) {
  if (file == "-") return std::string(std::istreambuf_iterator<char>(std::cin), {});
  return read_text_file(file);
}

int sign(const SignRequest& request) {
  KeyUri uri = parse_key_uri(request.key);
  Secret pin = pin_from_uri(uri);
  UriSigner signer(module_path(uri.module_path), uri, pin);
  for (const auto& file : request.files) {
    std::string message = read_input(file);
    Signature signature = signer.sign(sshsig_signed_data(request.signature_namespace, as_bytes(message)));
    std::string armored = sshsig_armor(signer.public_key(), request.signature_namespace, signature);
    if (file == "-") {
      std::cout << armored;
      continue;
    }
    fs::path output = file + ".sig";
    std::cerr << "Signing file " << file << "\n";
    fs::remove(output);
    write_new_file(output, armored, fs::perms::owner_read | fs::perms::owner_write |
                                        fs::perms::group_read | fs::perms::others_read);
    std::cerr << "Write signature to " << output.string() << "\n";
  }
  return 0;
}

[[noreturn]] void hand_to_ssh_keygen(char** argv) {
  const char* program = std::getenv("BROKERKEY_SSH_KEYGEN");
  if (!program || !*program) program = "/usr/bin/ssh-keygen";
  argv[0] = const_cast<char*>(program);
  ::execv(program, argv);
  std::cerr << "brokerkey-ssh-keygen: cannot run " << program << ": " << std::strerror(errno) << "\n";
  std::exit(255);
}

constexpr const char* kHelp =
    "Usage: brokerkey-ssh-keygen -Y sign -n NAMESPACE -f PKCS11_URI [-U] [-O OPTION] [FILE...]\n"
    "  or:  brokerkey-ssh-keygen SSH-KEYGEN-ARGUMENTS...\n"
    "  or:  brokerkey-ssh-keygen --help | --version\n\n"
    "git's gpg.ssh.program for the broker key. A sign request whose -f names a PKCS#11 URI\n"
    "(pkcs11:token=...;object=...;type=private?pin-source=file:PATH) is signed through the\n"
    "brokerkey module: each FILE gets FILE.sig, an armored SSHSIG (FILE - or none: stdin to\n"
    "stdout). Every other call, verification included, goes unchanged to the system\n"
    "ssh-keygen, and the options are read as ssh-keygen's getopt reads them, so a call means\n"
    "what it means to ssh-keygen.\n\n"
    "ssh-keygen has no long options: --help or --version as the only argument is answered\n"
    "here (ssh-keygen would refuse it); with anything else they go to ssh-keygen too.\n\n"
    "Environment:\n"
    "  BROKERKEY_SSH_KEYGEN  the ssh-keygen that gets every other call (default\n"
    "                        /usr/bin/ssh-keygen)\n"
    "  BROKERKEY_MODULE      the brokerkey module to sign through (default: the one beside\n"
    "                        this program, else the installed one)\n";

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args == std::vector<std::string>{"--version"}) {
    std::cout << "brokerkey-ssh-keygen " << kVersion << "\n";
    return 0;
  }
  if (args == std::vector<std::string>{"--help"}) {
    std::cout << kHelp;
    return 0;
  }
  try {
    auto request = broker_sign_request(args);
    if (!request) hand_to_ssh_keygen(argv);
    return sign(*request);
  } catch (const std::exception& e) {
    std::cerr << "brokerkey-ssh-keygen: " << e.what() << "\n";
    return 1;
  }
}
