//! Bank accounts, one actor each, and transfers between them: a task that withdraws from
//! one account's handle and deposits into another's. Money is never created or lost, even
//! when a transfer is refused or many run at once.

use std::fmt;

use rustyray::{ActorOptions, RayError};

/// Why a withdrawal was refused.
#[derive(Debug)]
pub struct InsufficientFunds {
    owner: String,
    balance: u64,
    wanted: u64,
}

impl fmt::Display for InsufficientFunds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} has {}, cannot withdraw {}",
            self.owner, self.balance, self.wanted
        )
    }
}

#[rustyray::actor]
pub struct Account {
    owner: String,
    balance: u64,
}

#[rustyray::actor]
impl Account {
    fn new(owner: String, opening: u64) -> Self {
        Account {
            owner,
            balance: opening,
        }
    }

    fn deposit(&mut self, amount: u64) -> u64 {
        self.balance += amount;
        self.balance
    }

    /// Refused (balance unchanged) if the account cannot pay: an application error, and the
    /// actor goes on.
    fn withdraw(&mut self, amount: u64) -> Result<u64, InsufficientFunds> {
        if amount > self.balance {
            return Err(InsufficientFunds {
                owner: self.owner.clone(),
                balance: self.balance,
                wanted: amount,
            });
        }
        self.balance -= amount;
        Ok(self.balance)
    }

    fn balance(&self) -> u64 {
        self.balance
    }
}

/// Moves `amount` from `from` to `to`: nothing moves if `from` cannot pay.
#[rustyray::remote]
pub fn transfer(from: AccountHandle, to: AccountHandle, amount: u64) -> Result<(), String> {
    from.withdraw(amount).get().map_err(reason)?;
    to.deposit(amount).get().map_err(reason)?;
    Ok(())
}

/// An actor's own error message, without the layers a failed call adds around it.
fn reason(error: RayError) -> String {
    match error {
        RayError::Application(message) => message.to_string(),
        other => other.to_string(),
    }
}

fn balances(accounts: &[(&str, &AccountHandle)]) -> Result<String, RayError> {
    let mut total = 0;
    let mut parts = Vec::new();
    for (name, account) in accounts {
        let balance = account.balance().get()?;
        total += balance;
        parts.push(format!("{name} {balance}"));
    }
    Ok(format!("{} (total {total})", parts.join(", ")))
}

pub fn demo() -> Result<(), RayError> {
    let alice = Account::remote("alice".to_string(), 100);
    let bob = Account::remote("bob".to_string(), 50);
    // A named actor: found again by name from anywhere.
    let _carol = Account::remote_with(ActorOptions::new().name("carol"), "carol".to_string(), 0);
    let carol = Account::get_named("carol")
        .ok_or_else(|| RayError::application("carol is not registered"))?;
    let everyone = [("alice", &alice), ("bob", &bob), ("carol", &carol)];
    println!("opening balances: {}", balances(&everyone)?);

    let moves = [
        ("alice", &alice, "bob", &bob, 30),
        ("bob", &bob, "carol", &carol, 60),
        ("carol", &carol, "alice", &alice, 10),
        ("alice", &alice, "carol", &carol, 500),
    ];
    for (from_name, from, to_name, to, amount) in moves {
        match transfer::remote(from.clone(), to.clone(), amount).get() {
            Ok(()) => println!("transfer {amount} {from_name} -> {to_name}: done"),
            Err(RayError::Application(why)) => {
                println!("transfer {amount} {from_name} -> {to_name}: refused: {why}")
            }
            Err(other) => return Err(other),
        }
    }
    println!("balances: {}", balances(&everyone)?);

    // Twenty transfers at once, in both directions: each account still handles one call
    // at a time, so no update is lost.
    let concurrent: Vec<_> = (0..20)
        .map(|i| {
            if i % 2 == 0 {
                transfer::remote(alice.clone(), bob.clone(), 2)
            } else {
                transfer::remote(bob.clone(), alice.clone(), 1)
            }
        })
        .collect();
    for pending in &concurrent {
        pending.get()?;
    }
    println!(
        "after 10 x (alice -> bob 2) and 10 x (bob -> alice 1) at once: {}",
        balances(&everyone)?
    );
    Ok(())
}
