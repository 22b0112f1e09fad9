// A config thread that ends without answering.
process.exit(3);
