// A config thread that throws before it answers: what a bug in the validator would look like to loadConfigInThread.
throw new Error("validator bug");
