// brokerkey-ssh-keygen: git's gpg.ssh.program. It answers the one request that needs the
// broker key, `-Y sign -n NAMESPACE -f PKCS11_URI [-U] FILE`, by signing through the module,
// and hands every other invocation, unchanged, to the system ssh-keygen (verification,
// find-principals, fingerprints of key files).
#include <fcntl.h>
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
#include "git_agent.h"
#include "module_client.h"

namespace {

using namespace brokerkey;

struct SignRequest {
  std::string signature_namespace;
  std::string key;  // -f
  std::vector<std::string> files;
};

// A sign request whose key is a PKCS#11 URI, or nullopt: not ours to answer.
std::optional<SignRequest> broker_sign_request(const std::vector<std::string>& args) {
  SignRequest request;
  bool sign = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= args.size()) throw invalid_input(a + " needs a value");
      return args[++i];
    };
    if (a == "-Y") {
      sign = value() == "sign";
    } else if (a == "-n") {
      request.signature_namespace = value();
    } else if (a == "-f") {
      request.key = value();
    } else if (a == "-U" || a == "-q") {
      // -U: git's hint that the key is in an agent; the broker is our agent.
    } else if (a == "-O") {
      value();  // options such as hashalg= are ignored: SSHSIG with Ed25519 uses sha512
    } else if (!a.empty() && a[0] == '-') {
      return std::nullopt;  // something only the real ssh-keygen knows
    } else {
      request.files.push_back(a);
    }
  }
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
  if (auto agent = git_configured_agent()) ::setenv("SSH_AUTH_SOCK", agent->c_str(), 1);
  argv[0] = const_cast<char*>(program);
  ::execv(program, argv);
  std::cerr << "brokerkey-ssh-keygen: cannot run " << program << ": " << std::strerror(errno) << "\n";
  std::exit(255);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  try {
    auto request = broker_sign_request(args);
    if (!request) hand_to_ssh_keygen(argv);
    return sign(*request);
  } catch (const std::exception& e) {
    std::cerr << "brokerkey-ssh-keygen: " << e.what() << "\n";
    return 1;
  }
}
