"""Actors in Python: a counter, and bank accounts with transfers between them.

    rustyray run examples/python_actors
"""

import rustyray


@rustyray.actor
class Counter:
    def __init__(self, start=0):
        self.value = start

    def increment(self, by=1):
        self.value += by
        return self.value

    def get(self):
        return self.value


class InsufficientFunds(Exception):
    pass


@rustyray.actor(snapshot=True)  # state survives a crash: restored from the last snapshot
class Account:
    def __init__(self, owner, balance):
        self.owner = owner
        self.balance = balance
        self.history = []

    def deposit(self, amount):
        self.balance += amount
        self.history.append(("deposit", amount))
        return self.balance

    def withdraw(self, amount):
        if amount > self.balance:
            raise InsufficientFunds(f"{self.owner} has {self.balance}, asked for {amount}")
        self.balance -= amount
        self.history.append(("withdraw", amount))
        return self.balance

    def statement(self):
        return {"owner": self.owner, "balance": self.balance, "history": self.history}

    def on_stop(self):
        print(f"closing {self.owner}'s account at {self.balance}")


@rustyray.remote
def transfer(source: rustyray.ActorHandle, target: rustyray.ActorHandle, amount):
    """A task that moves money between two actors it was handed."""
    rustyray.get(source.withdraw.remote(amount))
    return rustyray.get(target.deposit.remote(amount))


@rustyray.main
def main(args):
    counter = Counter.remote(10)
    refs = [counter.increment.remote() for _ in range(5)]  # run in order, one at a time
    print("counter:", rustyray.get(refs), "->", rustyray.get(counter.get.remote()))
    counter.increment.tell(by=100)  # fire and forget
    print("after tell:", rustyray.get(counter.get.remote()))

    alice = Account.options(name="alice").remote("alice", 100)
    bob = Account.options(max_restarts=1).remote("bob", 20)
    print("bob after transfer:", rustyray.get(transfer.remote(alice, bob, 30)))
    try:
        rustyray.get(bob.withdraw.remote(1_000))
    except rustyray.RayTaskError as err:
        print("refused:", err.cause_type, "-", err.cause_message)
    same = rustyray.get_actor("alice")
    print("alice:", rustyray.get(same.statement.remote()))
    print("bob:", rustyray.get(bob.statement.remote()))
    rustyray.kill(bob, no_restart=False)  # Ray's: the instance dies, the actor restarts
    print("bob after a restart:", rustyray.get(bob.statement.remote())["balance"])
    rustyray.kill(same)
    try:
        rustyray.get(alice.statement.remote())
    except rustyray.ActorDiedError as err:
        print("after kill:", type(err).__name__)
    return 0
