// Reads (never verifies) an access token's claims: the console only needs `sid` to recognise
// its own session across tabs, and `exp` as a cross-check of `expires_in`.

export interface Claims {
  sid?: string;
  exp?: number;
  org_id?: string | null;
}

export function readClaims(token: string): Claims {
  const part = token.split('.')[1];
  if (!part) return {};
  try {
    const b64 = part.replace(/-/g, '+').replace(/_/g, '/');
    const padded = b64 + '='.repeat((4 - (b64.length % 4)) % 4);
    const bytes = Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
    const claims = JSON.parse(new TextDecoder().decode(bytes));
    return typeof claims === 'object' && claims !== null ? claims : {};
  } catch {
    return {};
  }
}
