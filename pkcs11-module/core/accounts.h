// Local accounts by name, as the consumers' policy and the agent's socket group name them.
#pragma once

#include <sys/types.h>

#include <string>

namespace brokerkey {

// The uid of user `name` / the gid of group `name`; throws not_found naming it when this host
// has no such account.
uid_t user_id(const std::string& name);
gid_t group_id(const std::string& name);

}  // namespace brokerkey
