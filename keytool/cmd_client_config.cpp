// brokerkey client-config: the configuration a consumer account needs to reach the broker
// through brokerkey-agent, and nothing else (core/config.h client_config_text).
#include <iostream>

#include "commands.h"
#include "core/broker_view.h"
#include "core/error.h"
#include "core/key_label.h"

namespace brokerkey {

namespace {

// The token label the broker presents: the agent's own answer if it gives one to this account,
// else this account's broker configuration's, else the default.
std::string default_token_label(const fs::path& socket) {
  std::string why;
  try {
    AgentConnection agent(socket, std::chrono::seconds(5));
    if (auto view = agent.text_extension(agent::kViewExtension)) return parse_broker_view(*view).ledger.token_label;
    why = "it refuses this account its view";
  } catch (const AgentConnectionLost& e) {
    why = with_likely_cause(e).what();
  } catch (const std::exception& e) {
    // not running, or this account is no consumer of it (the operator writing a consumer's file)
    why = e.what();
  }
  std::string label;
  try {
    label = load_config(locate_config()).token_label;
  } catch (const std::exception&) {
    label = Config{}.token_label;
  }
  // Still a usable file (the agent may not run yet), but the label is a guess: say so.
  std::cerr << "brokerkey client-config: the agent at " << socket.string() << " did not say its token label ("
            << why << "); wrote '" << label << "': give --token-label if the broker's is another\n";
  return label;
}

int run_client_config(const cli::Args& args) {
  auto socket = args.value("socket");
  if (!socket) throw cli::UsageError("--socket PATH (brokerkey-agent's socket) is required");
  fs::path path = socket_option(*socket);
  std::string label = args.value("token-label") ? *args.value("token-label") : default_token_label(path);
  try {
    check_token_label(label);
  } catch (const Error& e) {
    throw cli::UsageError(std::string("--token-label: ") + e.what());
  }
  std::cout << client_config_text(path, label);
  return 0;
}

}  // namespace

const Command kClientConfigCommand{
    "client-config",
    "print a consumer's client configuration: brokerkey-agent's socket, nothing secret",
    "--socket PATH [--token-label LABEL]\n\n"
    "Prints, on stdout, the configuration a consumer account needs to use the broker key\n"
    "through brokerkey-agent at PATH (absolute): mode \"client\", the socket and the token label.\n"
    "It holds nothing secret and names no broker file. Put it where the consumer's programs\n"
    "look: ~/.config/brokerkey/brokerkey.conf of the consumer's account, or\n"
    "/etc/brokerkey/brokerkey.conf for every account of the host, or any file $BROKERKEY_CONF\n"
    "names; like every configuration it must be writable by its owner (the account or root)\n"
    "only. Then 'brokerkey pubkey', 'fingerprint --check', 'status', 'check',\n"
    "'allowed-signers' and 'git-config', brokerkey-ssh-keygen and brokerkey-gpgsm ask the agent,\n"
    "and the commands that change the broker refuse to run.\n\n"
    "  --socket PATH        brokerkey-agent's socket (its --socket or agent.socket)\n"
    "  --token-label LABEL  the broker's token label; default: what the agent says if it\n"
    "                       answers this account, else this account's broker configuration's,\n"
    "                       else \"brokerkey\"\n\n"
    "  brokerkey client-config --socket /run/brokerkey/agent.sock > ~/.config/brokerkey/brokerkey.conf\n",
    {{"socket", "token-label"}, {}, 0, 0},
    run_client_config,
};

}  // namespace brokerkey
