#!/usr/bin/env node
// The installed `moat` command; runs on the Node.js that `npm install` pins (see package.json engines).
import "../src/cli/main.ts";
