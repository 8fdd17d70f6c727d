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
  auto* migrate = cli.add_subcommand("migrate", "Apply pending database migrations");
  auto* seed =
      cli.add_subcommand("seed", "Seed the permission catalog and system roles (idempotent)");
  auto* version = cli.add_subcommand("version", "Print the version");

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
    if (migrate->parsed()) return app::migrate(*config);
    if (seed->parsed()) return app::seed(*config);
  } catch (const std::exception& e) {
    log::error("fatal", {{"error", e.what()}});
    return 1;
  }
  return 0;
}
