// Members of the caller's organization and invitations (API.md, Members).
//
// - Adding an existing user (by email) makes a membership; an unknown email makes an invitation:
//   a token shown once, stored as a BLAKE2b hash, valid 7 days, superseding that email's earlier
//   pending invitations. POST /api/invitations/accept turns it into a membership, for the
//   signed-in invited user or for a new account, and answers a token bundle for the inviting
//   organization (identity's sessions).
// - No privilege escalation (DESIGN.md §6): the caller must hold every permission of the roles
//   it grants, and of the roles the member holds already (a member above the caller cannot be
//   changed or removed by them): 403 privilege_escalation. SUPER_ADMIN is not an organization
//   role (it is global): it cannot be granted here.
// - The organization keeps at least one TENANT_ADMIN: removing or demoting the last is 409.
//   Membership changes of one organization are serialised, so two concurrent removals cannot
//   both pass that check.
// - Removing a member or changing their roles revokes their access tokens for the organization
//   (identity's revocations): the old token answers 401 within 5 s; their API keys stop or
//   narrow with them.
// Every change writes its audit entry (member.add, member.invite, member.update, member.remove;
// target: the user, or the invitation) in its transaction; tokens never reach the audit trail.
// Thread-safe.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "db/database.hpp"
#include "http/message.hpp"
#include "http/pagination.hpp"
#include "identity/identity.hpp"
#include "platform/clock.hpp"
#include "tenancy/store.hpp"

namespace atrium::tenancy {

inline constexpr std::chrono::hours kInvitationTtl{24 * 7};

struct CreatedInvitation {
  Invitation invitation;
  std::string token;  // shown once, never stored
};

// {id, email, role, token, expires_at}
nlohmann::json to_json(const CreatedInvitation& created);

// What POST /api/users made: a membership or an invitation.
struct Added {
  std::optional<Member> member;
  std::optional<CreatedInvitation> invitation;
};

struct Acceptance {
  std::string token;
  std::optional<std::string> name;      // a new account's
  std::optional<std::string> password;  // a new account's (10–128 characters)
};

class MemberService {
 public:
  MemberService(db::Database& db, identity::Identity& identity, const Clock& clock);

  Result<MemberPage> list(const Principal& caller, const http::PageQuery& page);
  Result<Member> get(const Principal& caller, std::string_view user_id);
  // `email` lower-cased and valid. 400 (field "role") for a role the organization does not have.
  Result<Added> add(const Principal& caller, const std::string& email, const std::string& role,
                    const http::Request& req);
  // Replaces the member's roles with `roles` (names, at least one). 400 (field "roles[i]") for
  // an unknown role.
  Result<Member> update(const Principal& caller, std::string_view user_id,
                        const std::vector<std::string>& roles, const http::Request& req);
  Result<void> remove(const Principal& caller, std::string_view user_id, const http::Request& req);

  // `caller`: the bearer's principal when the request carried one, else null. Errors: 404 for an
  // unknown, used or expired token; 403 when the bearer is not the invited address (or is an API
  // key); 401 when the invited address has an account and no bearer came (sign in, then accept);
  // 400 for a new account without a valid password; 409 when already a member.
  Result<identity::Bundle> accept(const Principal* caller, const Acceptance& in,
                                  const http::Request& req);

 private:
  db::Database& db_;
  identity::Identity& identity_;
  const Clock& clock_;
};

}  // namespace atrium::tenancy
