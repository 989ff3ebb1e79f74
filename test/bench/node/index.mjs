// The seed (test/bench/flask/app.py) as a Lambda function in Node.js 20,
// the way most people would port it: the AWS SDK v3 reads the key from
// Secrets Manager once, at module load (top-level await: the cold start),
// and the handler answers API Gateway REST events: GET / with the right
// x-api-key gets 200 {"message":"OK: Authorized"}, anything else 401
// {"message":"ERROR: Unauthorized"}. A row of `make bench`'s cold-start
// model, run under aws-lambda-ric (package.json beside this file).
import { timingSafeEqual } from "node:crypto";
import { SecretsManagerClient, GetSecretValueCommand } from "@aws-sdk/client-secrets-manager";

const out = await new SecretsManagerClient({}).send(
  new GetSecretValueCommand({ SecretId: process.env.API_KEY_SECRET_ID }));
const key = Buffer.from(out.SecretString);

const answer = (statusCode, message) => ({
  statusCode, headers: { "Content-Type": "application/json" }, body: JSON.stringify({ message }),
});

export const handler = async (event) => {
  let given = "";
  for (const [name, value] of Object.entries(event.headers ?? {})) {
    if (name.toLowerCase() === "x-api-key") given = value ?? "";
  }
  const g = Buffer.from(given);
  // Constant-time, like keygate and the seed.
  const ok = event.httpMethod === "GET" && event.path === "/" &&
    g.length === key.length && timingSafeEqual(g, key);
  return ok ? answer(200, "OK: Authorized") : answer(401, "ERROR: Unauthorized");
};
