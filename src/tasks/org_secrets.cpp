#include "tasks/org_secrets.hpp"

#include "platform/log.hpp"
#include "platform/secret_box.hpp"

namespace atrium::tasks {

SecretReader org_secret_reader(db::Database& db, std::string data_key) {
  return [&db, key = std::move(data_key)](
             const std::string& org, std::string_view name) -> Result<std::optional<std::string>> {
    auto row = db.transact({.tenant = org, .read_only = true}, [&](db::Tx& tx) {
      return tx.query_one(
          "SELECT ciphertext, nonce FROM org_secrets WHERE organization_id = $1 AND name = $2",
          {org, name});
    });
    if (!row) return fail(row.error());
    if (!*row) return std::optional<std::string>();
    auto plain =
        open_secret(key, org_secret_context(org, name), {(*row)->text(0), (*row)->text(1)});
    if (!plain) {
      log::error("an organization secret does not open with the data key",
                 {{"tenant", org}, {"name", name}});
      return fail(Error::internal());
    }
    return std::optional<std::string>(std::move(*plain));
  };
}

}  // namespace atrium::tasks
