// brokerkey: the keytool. Every failure is one line on stderr and a non-zero exit:
// 1 when the work failed, 2 when the command line was wrong.
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "commands.h"
#include "core/error.h"
#include "core/version.h"

namespace {

using brokerkey::Command;

const Command* const kCommands[] = {
    &brokerkey::kInitCommand,        &brokerkey::kMintCommand,     &brokerkey::kStatusCommand,
    &brokerkey::kPubkeyCommand,      &brokerkey::kFingerprintCommand,
    &brokerkey::kRotateCommand,      &brokerkey::kRetireCommand,   &brokerkey::kRevokeCommand,
    &brokerkey::kAllowedSignersCommand, &brokerkey::kGitConfigCommand, &brokerkey::kCertCommand,
    &brokerkey::kCheckCommand,       &brokerkey::kHealthCommand,
    &brokerkey::kConsumerCommand,    &brokerkey::kAuditCommand,    &brokerkey::kClientConfigCommand,
    &brokerkey::kAgentConfigCommand,
};

void print_overview() {
  std::cout << "Usage: brokerkey COMMAND [OPTIONS]\n"
               "  or:  brokerkey --help | --version\n\n"
               "Keeps one broker-wide Ed25519 signing key inside a key store and serves it\n"
               "through PKCS#11 (libbrokerkey-pkcs11.so).\n\nCommands:\n";
  for (const Command* command : kCommands) {
    std::printf("  %-16s %s\n", std::string(command->name).c_str(),
                std::string(command->summary).c_str());
  }
  std::cout << "\n'brokerkey COMMAND --help' describes one command; 'brokerkey --version' tells the\n"
               "version and whether this is a test build. The configuration is found\n"
               "through $BROKERKEY_CONF, ~/.config/brokerkey/brokerkey.conf or\n"
               "/etc/brokerkey/brokerkey.conf.\n\n"
               "Options:\n"
               "  -h, --help       print this overview\n"
               "  --version        print the version of brokerkey\n";
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> words(argv + 1, argv + argc);
  if (words.empty() || words[0] == "--help" || words[0] == "-h" || words[0] == "help") {
    print_overview();
    return words.empty() ? 2 : 0;
  }
  if (words[0] == "--version") {
    std::cout << "brokerkey " << brokerkey::kVersion << "\n";
#ifdef BROKERKEY_TEST_HOOKS
    // Tests check this line to know that the clock and the crash points can be moved.
    std::cout << "test hooks: compiled in (BROKERKEY_TEST_NOW, BROKERKEY_TEST_CRASH_AT are honoured):"
                 " a test build, not for production\n";
#endif
    return 0;
  }
  const Command* command = nullptr;
  for (const Command* candidate : kCommands) {
    if (candidate->name == words[0]) command = candidate;
  }
  if (!command) {
    std::cerr << "brokerkey: unknown command '" << words[0] << "' (see brokerkey --help)\n";
    return 2;
  }
  words.erase(words.begin());
  for (const auto& word : words) {
    if (word == "--") break;
    if (word == "--help" || word == "-h") {
      std::cout << "Usage: brokerkey " << command->name << " " << command->usage;
      return 0;
    }
  }
  try {
    return command->run(brokerkey::cli::parse(words, command->spec));
  } catch (const brokerkey::cli::UsageError& e) {
    std::cerr << "brokerkey " << command->name << ": " << e.what() << " (see brokerkey "
              << command->name << " --help)\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "brokerkey " << command->name << ": " << e.what() << "\n";
    return 1;
  }
}
