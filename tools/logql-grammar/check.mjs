// Reads a JSON array of LogQL expressions on stdin; prints a JSON array with, for each, the offsets where
// Grafana's LogQL grammar (@grafana/lezer-logql) found a syntax error (empty: it parses).
import { readFileSync } from "node:fs";
import { parser } from "@grafana/lezer-logql";

const exprs = JSON.parse(readFileSync(0, "utf8"));
const results = exprs.map((expr) => {
  const errors = [];
  parser.parse(expr).iterate({
    enter: (node) => {
      if (node.type.isError) errors.push(node.from);
    },
  });
  return errors;
});
process.stdout.write(JSON.stringify(results));
