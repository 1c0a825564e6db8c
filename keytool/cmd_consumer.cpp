// brokerkey consumer add|list|remove: who may log in to the broker token.
#include <boost/json.hpp>
#include <iostream>

#include "commands.h"
#include "core/consumer_pin.h"
#include "core/error.h"

namespace brokerkey {

namespace {

int add(Broker& broker, const std::string& name) {
  check_consumer_name(name);
  if (broker.config.find_consumer(name)) throw already_exists("consumer '" + name + "' exists already");
  Secret secret = generate_pin();
  Secret pin(name + ":" + secret.view());
  Config updated = broker.config;
  updated.consumers.push_back(make_consumer_entry(name, pin));
  save_config(updated);
  try {
    broker.ledger.append("consumer_add", {{"name", name}});
  } catch (...) {
    save_config(broker.config);  // not recorded, so not added
    throw;
  }
  std::cout << "Added consumer '" << name << "'. Its PIN, shown only this once:\n\n  " << pin.view()
            << "\n\nStore it in a file only that consumer can read (chmod 600) and name the file\n"
               "in its PKCS#11 URI: ...?pin-source=file:/path/to/pin\n";
  return 0;
}

int remove(Broker& broker, const std::string& name) {
  if (!broker.config.find_consumer(name)) throw not_found("no consumer '" + name + "'");
  Config updated = broker.config;
  std::erase_if(updated.consumers, [&](const ConsumerEntry& c) { return c.name == name; });
  save_config(updated);
  try {
    broker.ledger.append("consumer_remove", {{"name", name}});
  } catch (...) {
    save_config(broker.config);
    throw;
  }
  std::cout << "Removed consumer '" << name << "': its PIN no longer logs in.\n";
  return 0;
}

int run_consumer(const cli::Args& args) {
  const auto& words = args.positional();
  if (words.empty()) throw cli::UsageError("say add NAME, list or remove NAME");
  Broker broker = load_broker();
  const std::string& action = words[0];
  if (action == "list") {
    if (words.size() != 1) throw cli::UsageError("list takes no argument");
    if (args.flag("json")) {
      boost::json::array names;
      for (const auto& c : broker.config.consumers) names.push_back(boost::json::string(c.name));
      std::cout << boost::json::serialize(names) << "\n";
    } else {
      for (const auto& c : broker.config.consumers) std::cout << c.name << "\n";
    }
    return 0;
  }
  if (action != "add" && action != "remove") throw cli::UsageError("unknown action '" + action + "'");
  if (words.size() != 2) throw cli::UsageError(action + " takes one NAME");
  return action == "add" ? add(broker, words[1]) : remove(broker, words[1]);
}

}  // namespace

const Command kConsumerCommand{
    "consumer",
    "add, list or remove the consumers that may log in and sign",
    "add NAME | list [--json] | remove NAME\n\n"
    "A consumer is a client (a CI job, a service) that logs in to the broker token with its\n"
    "own PIN; the signing log names it. 'add' prints a fresh random PIN once, in the form\n"
    "NAME:SECRET; only its salted scrypt hash is kept in the configuration. 'remove' makes\n"
    "that PIN stop working at the next login. Both are recorded in the ledger.\n",
    {{}, {"json"}, 1, 2},
    run_consumer,
};

}  // namespace brokerkey
