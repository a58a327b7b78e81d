// `npm start` will run line-provider, the score-maker API and its worker in one process once those
// exist. Until then it says so instead of pretending.
console.error(
  'Scoreline: the one-process quick start is not built yet. What exists today is the platform ' +
    '(config, database, broker, outbox relay) and the gRPC contracts; see README.md, "Status".',
);
process.exit(1);
