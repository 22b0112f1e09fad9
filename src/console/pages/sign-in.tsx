// Signing in: an API token typed here (kept for this tab only), or the admin client certificate the browser presents; the API says whether it accepts either.
import { useState } from "preact/hooks";
import { asProblem } from "../api/client.ts";
import type { ProblemError } from "../api/client.ts";
import { signIn } from "../api/session.ts";
import type { Session } from "../api/session.ts";
import { Field } from "../components/field.tsx";
import { ProblemView } from "../components/problem-view.tsx";

export function SignInPage(props: { onSignedIn(session: Session): void }) {
  const [token, setToken] = useState("");
  const [problem, setProblem] = useState<ProblemError | undefined>(undefined);
  const [isBusy, setBusy] = useState(false);
  const attempt = async (how: Parameters<typeof signIn>[0]) => {
    setBusy(true);
    setProblem(undefined);
    try {
      props.onSignedIn(await signIn(how));
    } catch (error) {
      setProblem(asProblem(error));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main id="main" class="sign-in">
      <h1>Sign in to the Moat console</h1>
      <p>The console calls Moat's admin API with your credentials: it shows and lets you do what your role (viewer, operator, admin) may.</p>
      <form
        onSubmit={(event) => {
          event.preventDefault();
          void attempt({ kind: "token", token: token.trim() });
        }}
      >
        <Field id="token" label="API token" hint="moat_<id>_<secret>, from `moat token create` (or the demo's token file). Kept in this tab only, until you sign out or close it.">
          {(describedBy, isInvalid) => (
            <input
              id="token"
              name="token"
              type="password"
              autocomplete="off"
              spellcheck={false}
              required
              value={token}
              aria-describedby={describedBy}
              aria-invalid={isInvalid}
              onInput={(event) => setToken(event.currentTarget.value)}
            />
          )}
        </Field>
        <div class="actions">
          <button type="submit" class="primary" disabled={isBusy}>
            Sign in
          </button>
        </div>
      </form>
      <p class="or">or</p>
      <div class="actions">
        <button type="button" disabled={isBusy} onClick={() => void attempt({ kind: "certificate" })}>
          Use my admin client certificate
        </button>
      </div>
      <p class="field-hint">An admin certificate from `moat admin issue`, imported into this browser: the browser offers it when it connects.</p>
      {problem && <ProblemView problem={problem} title="Not signed in" />}
    </main>
  );
}
