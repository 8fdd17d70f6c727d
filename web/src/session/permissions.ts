// The permission rule of DESIGN.md §6, for hiding and disabling what a user cannot do. The server
// stays the authority: this only decides what the console offers.

/** True when `held` grants `needed`: exactly, through `*`, or through `resource:*`. */
export function grants(held: readonly string[], needed: string): boolean {
  if (held.includes('*') || held.includes(needed)) return true;
  const colon = needed.indexOf(':');
  return colon > 0 && held.includes(`${needed.slice(0, colon)}:*`);
}

/** True when every one of `needed` is granted. */
export function grantsAll(held: readonly string[], needed: readonly string[]): boolean {
  return needed.every((p) => grants(held, p));
}

/**
 * The catalog entries a user may hand on (to a role or an API key): nobody can grant what they do
 * not hold (`privilege_escalation`).
 */
export function grantable(held: readonly string[], catalog: readonly string[]): string[] {
  return catalog.filter((p) => grants(held, p));
}
