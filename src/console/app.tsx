// The console's shell: sign-in first, then a header with who is signed in, the navigation, and the page the URL names.
import { useEffect, useRef, useState } from "preact/hooks";
import { LocationProvider, Route, Router, useLocation } from "preact-iso";
import { forgetSignIn, SessionContext, signIn, storedSignIn } from "./api/session.ts";
import type { Session } from "./api/session.ts";
import { useScrollableRegions } from "./components/scrollable-regions.ts";
import { StateBadge } from "./components/state-badge.tsx";
import { AuditPage } from "./pages/audit.tsx";
import { CertificatesPage } from "./pages/certificates.tsx";
import { DistributionDetailPage } from "./pages/distribution-detail.tsx";
import { DistributionFormPage } from "./pages/distribution-form.tsx";
import { DistributionsPage } from "./pages/distributions.tsx";
import { FleetPage } from "./pages/fleet.tsx";
import { InvalidationsPage } from "./pages/invalidations.tsx";
import { NotFoundPage } from "./pages/not-found.tsx";
import { SignInPage } from "./pages/sign-in.tsx";
import { TokensPage } from "./pages/tokens.tsx";
import { TrafficPage } from "./pages/traffic.tsx";

export const BASE = "/console";

const NAV: readonly { href: string; label: string; least?: "admin" }[] = [
  { href: `${BASE}/distributions`, label: "Distributions" },
  { href: `${BASE}/certificates`, label: "Certificates" },
  { href: `${BASE}/invalidations`, label: "Invalidations" },
  { href: `${BASE}/fleet`, label: "Fleet" },
  { href: `${BASE}/traffic`, label: "Traffic" },
  { href: `${BASE}/tokens`, label: "Tokens", least: "admin" },
  { href: `${BASE}/audit`, label: "Audit", least: "admin" },
];

export function App() {
  const [session, setSession] = useState<Session | undefined>(undefined);
  const [isRestoring, setRestoring] = useState(true);
  useEffect(() => {
    const stored = storedSignIn();
    if (!stored) return setRestoring(false);
    signIn(stored)
      .then(setSession)
      .catch(() => forgetSignIn())
      .finally(() => setRestoring(false));
  }, []);
  // Signed out, the tab's title says so (a signed-in page's title names that page).
  useEffect(() => {
    if (!session) document.title = "Sign in · Moat console";
  }, [session]);
  if (isRestoring) return <p class="loading">Signing in…</p>;
  if (!session) return <SignInPage onSignedIn={setSession} />;
  return (
    <SessionContext.Provider value={session}>
      <LocationProvider scope={BASE}>
        <Shell
          session={session}
          onSignOut={() => {
            forgetSignIn();
            setSession(undefined);
          }}
        />
      </LocationProvider>
    </SessionContext.Provider>
  );
}

function Shell(props: { session: Session; onSignOut(): void }) {
  const { path } = useLocation();
  const main = useRef<HTMLElement>(null);
  const isFirst = useRef(true);
  // A new page moves focus to its heading (else its content), so a keyboard or screen-reader user hears where they are and
  // starts there; the tab's title names the page too. The first page after sign-in starts at the top, as a page load would.
  useEffect(() => {
    const element = main.current;
    if (!element) return;
    const isFirstPage = isFirst.current;
    isFirst.current = false;
    let focusedHeading: HTMLElement | undefined;
    const announce = () => {
      const heading = element.querySelector<HTMLElement>("h1") ?? undefined;
      document.title = heading?.textContent ? `${heading.textContent} · Moat console` : "Moat console";
      if (isFirstPage) return;
      // A page may swap its loading heading for the loaded one: focus follows it, unless the user has moved on.
      const isFocusLost = focusedHeading === undefined || (!focusedHeading.isConnected && (document.activeElement === document.body || document.activeElement === null));
      if (!isFocusLost || focusedHeading === heading) return;
      if (heading) {
        heading.tabIndex = -1;
        heading.focus();
        focusedHeading = heading;
      } else if (focusedHeading === undefined) {
        element.focus();
      }
    };
    announce();
    const changes = new MutationObserver(announce);
    changes.observe(element, { childList: true, subtree: true, characterData: true });
    return () => changes.disconnect();
  }, [path]);
  useScrollableRegions(main);
  const { who } = props.session;
  return (
    <>
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href={`${BASE}/distributions`}>
          Moat console
        </a>
        <p class="who" data-testid="who">
          <span class="who-name">{who.kind === "token" ? `token ${who.name}` : `certificate ${who.name}`}</span> <StateBadge state={who.role} />
        </p>
        <button type="button" class="sign-out" onClick={props.onSignOut}>
          Sign out
        </button>
      </header>
      <nav class="nav" aria-label="Console">
        <ul>
          {NAV.filter((item) => !item.least || props.session.can(item.least)).map((item) => (
            <li key={item.href}>
              <a href={item.href} aria-current={path.startsWith(item.href) ? "page" : undefined}>
                {item.label}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <main id="main" ref={main} tabIndex={-1}>
        <Router>
          <Route path={`${BASE}/`} component={DistributionsPage} />
          <Route path={`${BASE}/distributions`} component={DistributionsPage} />
          <Route path={`${BASE}/distributions/new`} component={DistributionFormPage} />
          <Route path={`${BASE}/distributions/:id/edit`} component={DistributionFormPage} />
          <Route path={`${BASE}/distributions/:id`} component={DistributionDetailPage} />
          <Route path={`${BASE}/certificates`} component={CertificatesPage} />
          <Route path={`${BASE}/invalidations`} component={InvalidationsPage} />
          <Route path={`${BASE}/fleet`} component={FleetPage} />
          <Route path={`${BASE}/traffic`} component={TrafficPage} />
          <Route path={`${BASE}/tokens`} component={TokensPage} />
          <Route path={`${BASE}/audit`} component={AuditPage} />
          <Route default component={NotFoundPage} />
        </Router>
      </main>
    </>
  );
}
