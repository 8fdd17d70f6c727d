// atrium: the one binary. `atrium --help` lists the subcommands and every setting.
#include <CLI/CLI.hpp>
#include <csignal>
#include <iostream>

#include "app/commands.hpp"
#include "platform/config.hpp"
#include "platform/log.hpp"

#ifndef ATRIUM_VERSION
#define ATRIUM_VERSION "0.0.0"
#endif

int main(int argc, char** argv) {
  using namespace atrium;

  // Block the shutdown signals before any thread exists; serve waits for them with sigwait.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  CLI::App cli{
      "Atrium: a self-hostable multi-tenant SaaS core.\n"
      "Settings come from ATRIUM_* environment variables, an optional TOML file (--config)\n"
      "and the flags below, which win."};
  cli.require_subcommand(1);
  cli.fallthrough();

  ConfigSources sources;
  cli.add_option("--config", sources.config_file, "TOML configuration file")
      ->check(CLI::ExistingFile);
  std::map<std::string, std::string> flag_values;
  for (const auto& s : settings()) {
    if (s.secret) continue;  // secrets never on a command line (visible in ps)
    std::string flag = "--" + std::string(s.key);
    std::replace(flag.begin(), flag.end(), '_', '-');
    cli.add_option(flag, flag_values[std::string(s.key)],
                   std::string(s.help) + " [" + std::string(s.env) + "]");
  }

  auto* serve =
      cli.add_subcommand("serve", "Migrate, seed and serve the API, WebSocket and console");
  auto* worker = cli.add_subcommand(
      "worker", "Run tasks from the shared queue (distributed mode); serves health and metrics");
  auto* migrate = cli.add_subcommand("migrate", "Apply pending database migrations");
  auto* seed =
      cli.add_subcommand("seed", "Seed the permission catalog and system roles (idempotent)");
  auto* version = cli.add_subcommand("version", "Print the version");
  auto* routes = cli.add_subcommand(
      "routes", "Print the route table: method, path and who may call it (the permission policy)");
  bool routes_json = false;
  routes->add_flag("--json", routes_json, "as a JSON array of {method, path, access, permission}");

  auto* token = cli.add_subcommand("token", "Access tokens for operators");
  token->require_subcommand(1);
  auto* mint = token->add_subcommand(
      "mint",
      "Print an access token for a user, enriched with their permissions in an organization");
  std::string mint_user;
  std::string mint_org;
  bool mint_json = false;
  mint->add_option("--user", mint_user, "the user's email")->required();
  mint->add_option("--org", mint_org, "organization id (default: the user's first organization)");
  mint->add_flag("--json", mint_json,
                 "print the whole token bundle (incl. a refresh token) as JSON");

  auto* admin = cli.add_subcommand("admin", "Operator commands");
  admin->require_subcommand(1);
  auto* superadmin = admin->add_subcommand(
      "create-superadmin",
      "Create or promote a global SUPER_ADMIN; the password is read from ATRIUM_ADMIN_PASSWORD or "
      "standard input");
  std::string admin_email;
  superadmin->add_option("--email", admin_email, "the super admin's email")->required();

  CLI11_PARSE(cli, argc, argv);

  if (version->parsed()) {
    std::cout << "atrium " << ATRIUM_VERSION << "\n";
    return 0;
  }

  for (const auto& [key, value] : flag_values)
    if (!value.empty()) sources.flags[key] = value;
  auto config = load_config(sources);
  if (!config) {
    std::cerr << "atrium: invalid configuration: " << config.error().detail << "\n";
    return 2;
  }
  log::set_level(config->log_level);

  try {
    if (serve->parsed()) return app::serve(std::move(*config));
    if (worker->parsed()) return app::worker(std::move(*config));
    if (migrate->parsed()) return app::migrate(*config);
    if (seed->parsed()) return app::seed(*config);
    if (routes->parsed()) return app::print_routes(*config, routes_json);
    if (mint->parsed())
      return app::mint_token(std::move(*config), mint_user,
                             mint_org.empty() ? std::nullopt : std::optional<std::string>(mint_org),
                             mint_json);
    if (superadmin->parsed()) return app::create_superadmin(std::move(*config), admin_email);
  } catch (const std::exception& e) {
    log::error("fatal", {{"error", e.what()}});
    return 1;
  }
  return 0;
}
