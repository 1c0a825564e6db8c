// brokerkey consumer add|list|remove: who may log in to the broker token.
#include <boost/json.hpp>
#include <charconv>
#include <iostream>

#include "commands.h"
#include "core/accounts.h"
#include "core/consumer_pin.h"
#include "core/error.h"

namespace brokerkey {

namespace {

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> items;
  std::size_t start = 0;
  for (;;) {
    std::size_t comma = text.find(',', start);
    items.push_back(text.substr(start, comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return items;
}

std::uint32_t numeric_id(const std::string& text, std::string_view option) {
  std::uint32_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || value == 0xFFFFFFFFu) {
    throw cli::UsageError("--" + std::string(option) + " takes numeric ids, got '" + text + "'");
  }
  return value;
}

// The policy options of add and set, applied over `policy`: --user/--uid/--group add peers,
// --allow and --rate replace what they name.
ConsumerPolicy apply_policy_options(ConsumerPolicy policy, const cli::Args& args) {
  if (auto users = args.value("user")) {
    for (const auto& user : split_list(*users)) policy.uids.insert(user_id(user));
  }
  if (auto uids = args.value("uid")) {
    for (const auto& uid : split_list(*uids)) policy.uids.insert(numeric_id(uid, "uid"));
  }
  if (auto groups = args.value("group")) {
    for (const auto& group : split_list(*groups)) policy.groups.insert(group_id(group));
  }
  if (auto allow = args.value("allow")) {
    policy.grants.clear();
    for (const auto& grant : split_list(*allow)) policy.grants.insert(Grant::parse(grant));
  }
  if (auto rate = args.value("rate")) policy.rate = RateLimit::parse(*rate);
  return policy;
}

boost::json::object policy_record(const std::string& name, const ConsumerPolicy& policy) {
  boost::json::object record{{"name", name}};
  policy_to_record(policy, record);
  return record;
}

// Appended piece by piece: GCC 12 at -O3 warns falsely (-Wrestrict, GCC bug 105651) on
// `"literal" + std::string`.
std::string describe(const ConsumerPolicy& policy) {
  std::string out = "allow";
  const char* separator = " ";
  for (const Grant& grant : policy.grants) {
    out.append(separator).append(grant.text());
    separator = ",";
  }
  out.append("; rate ").append(policy.rate.text()).append("; uids");
  if (policy.uids.empty()) out.append(" -");
  for (uid_t uid : policy.uids) out.append(" ").append(std::to_string(uid));
  out.append("; groups");
  if (policy.groups.empty()) out.append(" -");
  for (gid_t gid : policy.groups) out.append(" ").append(std::to_string(gid));
  return out;
}

int set(Broker& broker, const std::string& name, const cli::Args& args) {
  auto found = broker.state.policies.find(name);
  if (found == broker.state.policies.end()) throw not_found("no consumer '" + name + "'");
  ConsumerPolicy policy = found->second;
  if (args.flag("clear-peers")) {
    policy.uids.clear();
    policy.groups.clear();
  }
  policy = apply_policy_options(std::move(policy), args);
  broker.ledger.append("consumer_policy", policy_record(name, policy));
  std::cout << "Consumer '" << name << "': " << describe(policy) << "\n";
  return 0;
}

int add(Broker& broker, const std::string& name, const cli::Args& args) {
  check_consumer_name(name);
  if (broker.config.find_consumer(name)) throw already_exists("consumer '" + name + "' exists already");
  ConsumerPolicy policy = apply_policy_options(ConsumerPolicy{}, args);
  Secret secret = generate_pin();
  Secret pin(name + ":" + secret.view());
  Config updated = broker.config;
  updated.consumers.push_back(make_consumer_entry(name, pin));
  save_config(updated);
  try {
    broker.ledger.append("consumer_add", policy_record(name, policy));
  } catch (...) {
    save_config(broker.config);  // not recorded, so not added
    throw;
  }
  std::cout << "Added consumer '" << name << "': " << describe(policy) << ".\nIts PIN, shown only this once:\n\n  " << pin.view()
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
  if (words.empty()) throw cli::UsageError("say add NAME, set NAME, list or remove NAME");
  Broker broker = load_broker();
  const std::string& action = words[0];
  if (action == "list") {
    if (words.size() != 1) throw cli::UsageError("list takes no argument");
    if (args.flag("json")) {
      boost::json::array names;
      for (const auto& c : broker.config.consumers) names.push_back(boost::json::string(c.name));
      std::cout << boost::json::serialize(names) << "\n";
    } else {
      for (const auto& c : broker.config.consumers) {
        auto policy = broker.state.policies.find(c.name);
        std::cout << c.name;
        if (args.flag("long") && policy != broker.state.policies.end()) std::cout << "\t" << describe(policy->second);
        std::cout << "\n";
      }
    }
    return 0;
  }
  if (action != "add" && action != "set" && action != "remove") {
    throw cli::UsageError("unknown action '" + action + "'");
  }
  if (words.size() != 2) throw cli::UsageError(action + " takes one NAME");
  if (action == "add") return add(broker, words[1], args);
  if (action == "set") return set(broker, words[1], args);
  return remove(broker, words[1]);
}

}  // namespace

const Command kConsumerCommand{
    "consumer",
    "add, list or remove the consumers that may log in and sign",
    "add NAME [POLICY] | set NAME [POLICY] [--clear-peers] | list [--long|--json] | remove NAME\n"
    "POLICY: [--user U,..] [--uid N,..] [--group G,..] [--allow PURPOSE,..] [--rate N/PERIOD]\n\n"
    "A consumer is a client (a CI job, a service) that logs in to the broker token with its\n"
    "own PIN; the signing log names it. 'add' prints a fresh random PIN once, in the form\n"
    "NAME:SECRET; only its salted scrypt hash is kept in the configuration. 'remove' makes\n"
    "that PIN stop working at the next login. Both are recorded in the ledger.\n\n"
    "Through brokerkey-agent a consumer is also the peer the kernel names: a connection from\n"
    "a uid given by --user/--uid, or (when no consumer names its uid) from a member of a\n"
    "--group, is that consumer. --allow says what it may sign: sshsig:NAMESPACE (sshsig:*\n"
    "for any), cms (CMS signed attributes, git's x509 format), ssh-auth (ssh logins) and raw\n"
    "(anything: it can forge all the others); the default is sshsig:git,cms. --rate caps its\n"
    "signatures, e.g. 120/60s (the default) or 5000/1h. 'set' changes the policy (--allow and\n"
    "--rate replace, --user/--uid/--group add; --clear-peers drops the old peers first); each\n"
    "change is a consumer_policy record in the ledger, and the agent follows it at once.\n",
    {{"user", "uid", "group", "allow", "rate"}, {"json", "long", "clear-peers"}, 1, 2},
    run_consumer,
};

}  // namespace brokerkey
