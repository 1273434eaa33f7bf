// aws-local-stepfunctions asks for Node >= 22; Node 20 lacks Promise.withResolvers.
import '../../rehearsal/local/polyfills';
