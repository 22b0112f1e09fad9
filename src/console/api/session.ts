// Who is signed in: the token typed into the sign-in form (kept in this tab's sessionStorage, sent as Bearer) or the browser's client certificate, and what their role lets the console show.
import { createContext } from "preact";
import { useContext } from "preact/hooks";
import { createConsoleClient } from "./client.ts";
import type { ConsoleClient } from "./client.ts";
import type { Role, Whoami } from "./types.ts";

/** The tab's own storage: gone when the tab closes, never sent anywhere but in the Authorization header. */
const STORAGE_KEY = "moat-console-sign-in";

const ROLES: readonly Role[] = ["viewer", "operator", "admin"];

export interface Session {
  client: ConsoleClient;
  who: Whoami;
  /** Whether the role may do what `least` may: the API's rule (viewer < operator < admin). The API refuses the rest anyway. */
  can(least: Role): boolean;
}

type Stored = { kind: "token"; token: string } | { kind: "certificate" };

export function isRoleAllowed(role: Role, least: Role): boolean {
  return ROLES.indexOf(role) >= ROLES.indexOf(least);
}

/** Asks the API who the credentials are; throws its problem when it refuses them. */
export async function signIn(stored: Stored): Promise<Session> {
  const client = createConsoleClient(stored.kind === "token" ? stored.token : undefined);
  const { data } = await client.GET("/whoami");
  if (!data) throw new Error("the API answered /whoami without a body");
  sessionStorage.setItem(STORAGE_KEY, JSON.stringify(stored));
  return { client, who: data, can: (least) => isRoleAllowed(data.role, least) };
}

/** The sign-in this tab kept, if any (asked again: a token may have been revoked since). */
export function storedSignIn(): Stored | undefined {
  try {
    const stored = JSON.parse(sessionStorage.getItem(STORAGE_KEY) ?? "null") as Stored | null;
    if (stored?.kind === "token" && typeof stored.token === "string") return stored;
    if (stored?.kind === "certificate") return stored;
  } catch {
    // A value this console did not write: forgotten below.
  }
  sessionStorage.removeItem(STORAGE_KEY);
  return undefined;
}

export function forgetSignIn(): void {
  sessionStorage.removeItem(STORAGE_KEY);
}

export const SessionContext = createContext<Session | undefined>(undefined);

/** The signed-in session: every page but the sign-in form is rendered inside one. */
export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error("useSession outside a signed-in console");
  return session;
}
