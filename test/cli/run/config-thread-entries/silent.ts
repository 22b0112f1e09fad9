// A config thread that never answers and never ends: what loadConfigInThread's deadline is for.
setInterval(() => {}, 1_000);
