// The web console's entry: mounts the app into the page the admin API serves at /console/.
import { render } from "preact";
import { App } from "./app.tsx";
import "./styles.css";

render(<App />, document.getElementById("app") as HTMLElement);
