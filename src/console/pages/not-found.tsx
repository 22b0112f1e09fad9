// A console URL that names no page.
export function NotFoundPage() {
  return (
    <section>
      <h1>No such page</h1>
      <p>
        This address names no page of the console. <a href="/console/distributions">Go to the distributions</a>.
      </p>
    </section>
  );
}
