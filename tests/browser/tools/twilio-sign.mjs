// Computes X-Twilio-Signature with Twilio's own Node library (npm `twilio`), so the app's
// implementation is checked against code no one here wrote. Used by tests/e2e/tests/channels.rs.
//
// Usage: node twilio-sign.mjs '{"token":"...","url":"...","params":[["Name","value"],...]}'
// Prints the signature.
import twilio from 'twilio';

const { token, url, params } = JSON.parse(process.argv[2]);
const object = {};
for (const [name, value] of params) {
  if (name in object) object[name] = [].concat(object[name], value);
  else object[name] = value;
}
process.stdout.write(twilio.getExpectedTwilioSignature(token, url, object));
