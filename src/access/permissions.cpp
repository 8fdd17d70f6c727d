#include "access/permissions.hpp"

#include <algorithm>
#include <array>
#include <unordered_map>

namespace atrium::access {

bool grants(std::string_view held, std::string_view required) {
  if (held == required || held == "*") return true;
  // "agents:*" grants "agents:<anything>".
  if (held.size() >= 2 && held.ends_with(":*")) {
    const auto prefix = held.substr(0, held.size() - 1);  // "agents:"
    return required.size() > prefix.size() && required.starts_with(prefix);
  }
  return false;
}

bool allows(std::span<const std::string> held, std::string_view required) {
  for (const auto& h : held)
    if (grants(h, required)) return true;
  return false;
}

bool allows_all(std::span<const std::string> held, std::span<const std::string> wanted) {
  return std::all_of(wanted.begin(), wanted.end(),
                     [&](const std::string& w) { return allows(held, w); });
}

namespace {

constexpr PermissionInfo kCatalog[] = {
    {"*", "Full system access"},
    {"org:*", "Every organization permission"},
    {"org:read", "View organization settings"},
    {"org:manage", "Modify organization settings and secrets"},
    {"users:*", "Every member permission"},
    {"users:read", "View members"},
    {"users:manage", "Add, invite, change roles of and remove members"},
    {"roles:*", "Every role permission"},
    {"roles:manage", "Create, edit and delete the organization's custom roles"},
    {"agents:*", "Every agent permission"},
    {"agents:read", "View agents"},
    {"agents:create", "Create agents"},
    {"agents:manage", "Edit and delete agents"},
    {"tasks:*", "Every task permission"},
    {"tasks:read", "View tasks"},
    {"tasks:create", "Run tasks"},
    {"tasks:cancel", "Cancel tasks"},
    {"audit:*", "Every audit permission"},
    {"audit:read", "View the organization's audit log"},
    {"apikeys:*", "Every API key permission"},
    {"apikeys:manage", "Create and revoke API keys"},
};

const std::vector<SystemRole> kSystemRoles = {
    {kSuperAdmin, "Full system access across every organization", {"*"}},
    {kTenantAdmin,
     "Administers an organization: members, roles, agents, tasks, audit and API keys",
     {"org:read", "users:read", "users:manage", "roles:manage", "agents:read", "agents:create",
      "agents:manage", "tasks:read", "tasks:create", "tasks:cancel", "audit:read",
      "apikeys:manage"}},
    {kUser,
     "Member of an organization: views it and runs agents",
     {"org:read", "users:read", "agents:read", "tasks:read", "tasks:create"}},
};

static_assert(std::size(kCatalog) <= 64, "compile_grants() keeps the catalog in 64 bits");

}  // namespace

std::span<const PermissionInfo> catalog() { return kCatalog; }

namespace {

// The catalog's names → index, and for each entry the entries it grants (a wildcard's family).
struct CompiledCatalog {
  std::unordered_map<std::string_view, int> index;
  std::array<std::uint64_t, std::size(kCatalog)> grants_bits{};
};

const CompiledCatalog& compiled_catalog() {
  static const CompiledCatalog c = [] {
    CompiledCatalog out;
    for (std::size_t i = 0; i < std::size(kCatalog); ++i) {
      out.index.emplace(kCatalog[i].name, static_cast<int>(i));
      for (std::size_t j = 0; j < std::size(kCatalog); ++j)
        if (grants(kCatalog[i].name, kCatalog[j].name)) out.grants_bits[i] |= std::uint64_t{1} << j;
    }
    return out;
  }();
  return c;
}

}  // namespace

int catalog_index(std::string_view name) {
  const auto& c = compiled_catalog();
  auto it = c.index.find(name);
  return it == c.index.end() ? kNotInCatalog : it->second;
}

std::uint64_t compile_grants(std::span<const std::string> held) {
  const auto& c = compiled_catalog();
  std::uint64_t bits = 0;
  for (const auto& h : held) {
    if (auto it = c.index.find(h); it != c.index.end()) {
      bits |= c.grants_bits[static_cast<std::size_t>(it->second)];
    } else if (h.ends_with(":*")) {
      // A wildcard outside the catalog may still cover catalog entries. Any other permission
      // outside it grants only itself, which is not in the catalog.
      for (std::size_t i = 0; i < std::size(kCatalog); ++i)
        if (grants(h, kCatalog[i].name)) bits |= std::uint64_t{1} << i;
    }
  }
  return bits;
}

bool allows(const Principal& principal, std::string_view required, int required_index) {
  if (required_index >= 0 && principal.catalog_grants)
    return (*principal.catalog_grants >> required_index) & 1;
  return allows(principal.permissions, required);
}

bool is_known_permission(std::string_view name) {
  return std::any_of(std::begin(kCatalog), std::end(kCatalog),
                     [&](const PermissionInfo& p) { return p.name == name; });
}

std::span<const SystemRole> system_roles() { return kSystemRoles; }

}  // namespace atrium::access
