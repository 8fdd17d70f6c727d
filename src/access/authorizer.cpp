#include "access/authorizer.hpp"

#include "access/permissions.hpp"

namespace atrium::access {

Result<void> authorize(const http::Access& access, const Principal* principal) {
  const int index = access.kind() == http::Access::Kind::kPermission
                        ? catalog_index(access.permission())
                        : kNotInCatalog;
  return authorize(access, index, principal);
}

Result<void> authorize(const http::Access& access, int permission_index,
                       const Principal* principal) {
  switch (access.kind()) {
    case http::Access::Kind::kPublic:
      return {};
    case http::Access::Kind::kAuthenticated:
      if (!principal) return fail(Error::unauthenticated());
      return {};
    case http::Access::Kind::kPermission:
      if (!principal) return fail(Error::unauthenticated());
      if (!allows(*principal, access.permission(), permission_index))
        return fail(Error::permission_denied(access.permission()));
      return {};
  }
  return fail(Error::internal());
}

}  // namespace atrium::access
